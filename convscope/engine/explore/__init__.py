"""Instant exploration: every layer of an image from one recorded pass, kept in memory, so
a click on a layer, class or method answers without a new pass (issue 14).

Entry point: the module `cache` (`from convscope.engine import explore` gives its public functions:
`explore.plan(m)`, `explore.configure(budget=..., fraction=...)`, `explore.enable(m, on)`,
`explore.paused(m)`, `explore.forget(m)`, `explore.STORE`).

Modules: `cache` (the all-layer analysis and its look-ups), `store` (the memory-budgeted
LRU it keeps entries in), `prefetch` (what the engine computes while idle),
`activation_view` (activations to pictures, numpy), `fast_grid` (the activation grid fast
enough for the GUI thread). Nothing here imports TensorFlow at import time.
"""
from .cache import STORE, Plan, configure, enable, forget, paused, plan, usable

__all__ = ["STORE", "Plan", "configure", "enable", "forget", "paused", "plan", "usable"]
