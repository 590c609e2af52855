"""Method names and titles as the engine lists them (no list of methods is kept here).

Figures ask the engine's method registry (engine/cam/registry.py, light: no TensorFlow)
which methods exist and how a reader knows each one ("Grad-CAM++"); a method registered
there appears in figures without a change here.
"""
from __future__ import annotations


def methods(kind: str | None = "cam") -> tuple[str, ...]:
    """The registered methods (class activation maps by default), in registry order."""
    from ..cam import registry

    return registry.names(kind)


def canonical(method: str) -> str:
    """The engine's name for `method` (any spelling or its title), or UserError listing them."""
    from ..cam import registry

    return registry.get(method).name


def title(method: str) -> str:
    from ..cam import registry

    return registry.title(method)
