"""Register the built-in router (exactly as a plugin would)."""

from __future__ import annotations

from switchtower.registries import routers
from switchtower.route.router import PolicyRouter

routers.add("policy", PolicyRouter)
