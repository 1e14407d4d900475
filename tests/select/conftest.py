"""The selector tests reuse the router tests' stage values (``tests/route/routing_fakes.py``)."""

import sys
from pathlib import Path

_ROUTE_TESTS = str(Path(__file__).resolve().parent.parent / "route")
if _ROUTE_TESTS not in sys.path:
    sys.path.insert(0, _ROUTE_TESTS)
