"""Protocol-speaking test doubles: fake upstreams on loopback, driven through the real SDKs.

Fixtures (see ``fakes.fixtures``, imported by ``tests/conftest.py``): ``fake_openai`` and
``fake_anthropic`` yield a :class:`~fakes.upstream.FakeUpstream` with ``base_url``,
scripting (``fail``, ``delay``, ``drop``, ``reply``) and inspection (``requests``,
``active_requests``, ``open_connections``).
"""

from fakes.anthropic_upstream import FakeAnthropic
from fakes.openai_upstream import FakeOpenAI
from fakes.upstream import Action, FakeUpstream

__all__ = ["Action", "FakeAnthropic", "FakeOpenAI", "FakeUpstream"]
