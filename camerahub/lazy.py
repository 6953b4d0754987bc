"""Package attributes that load on first use (PEP 562), to keep command start-up fast.

A package's `__init__` that imports its submodules makes every `import camerahub.x.small`
pay for all of `camerahub.x`; with `__getattr__ = lazy_exports(__name__, {...})` a name is
imported only when something asks for it. This module imports nothing of ours.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable


def lazy_exports(package: str, names: dict[str, str]) -> Callable[[str], object]:
    """A module `__getattr__` that imports `name` from the relative module names[name]."""

    def __getattr__(name: str) -> object:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module, package), name)

    return __getattr__
