"""Register the built-in selector (exactly as a plugin would)."""

from __future__ import annotations

from switchtower.registries import selectors
from switchtower.select.selector import BetaSelector

selectors.add("beta", BetaSelector)
