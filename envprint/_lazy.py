"""`lazy_attributes`: a package's public names, imported from their modules on first use (PEP 562).

`envprint`, `envprint.artifact`, `envprint.golden`, `envprint.probes` and `envprint.render` use it, so
that importing the package, or one light submodule of it, does not load every module behind its names
(issue 18: a command pays for what it does). Each package also lists its names under
``if TYPE_CHECKING:``, for type checkers.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_attributes"]


def lazy_attributes(package: str, names: Mapping[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """Returns the module ``__getattr__`` of `package`: a name of `names` (name -> module) is imported from its
    module on first use and kept in `namespace` (the package's globals), so later uses do not come back here."""

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    return __getattr__
