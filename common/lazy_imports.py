"""Importing a library without the optional heavy modules it would load only for features Winback does not use."""
from __future__ import annotations

import importlib
import sys
from types import ModuleType


def import_without(name: str, optional: tuple[str, ...]) -> ModuleType:
    """Import `name` while the `optional` modules not loaded yet look absent to it; they import normally afterwards."""
    if name in sys.modules:
        return sys.modules[name]
    hidden = [module for module in optional if module not in sys.modules]
    for module in hidden:
        sys.modules[module] = None  # type: ignore[assignment]  # `import module` now raises ImportError
    try:
        return importlib.import_module(name)
    finally:
        for module in hidden:
            if sys.modules.get(module, False) is None:
                del sys.modules[module]
