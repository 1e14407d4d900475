"""Protocol-speaking test doubles: fake upstreams on loopback, driven through the real SDKs.

Fixtures (see ``fakes.fixtures``, imported by ``tests/conftest.py``): ``fake_openai`` and
``fake_anthropic`` yield a :class:`~fakes.upstream.FakeUpstream` with ``base_url``,
scripting (``fail``, ``delay``, ``drop``, ``reply``) and inspection (``requests``,
``active_requests``, ``open_connections``). Both also speak their provider's Batch API
(``fakes.openai_batches``, ``fakes.anthropic_batches``): knobs ``batch_polls_until_done``
and ``batch_outcome``, log ``batches``.
"""

from fakes.anthropic_batches import AnthropicBatch
from fakes.anthropic_upstream import FakeAnthropic
from fakes.openai_batches import OpenAIBatch
from fakes.openai_upstream import FakeOpenAI
from fakes.upstream import Action, FakeUpstream

__all__ = ["Action", "AnthropicBatch", "FakeAnthropic", "FakeOpenAI", "FakeUpstream", "OpenAIBatch"]
