"""Registries for pluggable components (descriptors, fittings, losses, ...).

A new component is one class plus one decorator line::

    @Descriptor.register("se_e2_a", alias=("se_a",))
    class DescrptSeA(Descriptor): ...

The configuration schema is assembled from the registries, so a registered
class must also provide ``args()`` returning its dargs arguments.
"""

from __future__ import annotations

import difflib
from typing import Callable, Dict, Iterable, Tuple, Type


class Registry:
    """Name -> class mapping with aliases and "did you mean" errors.

    Parameters
    ----------
    kind
        What the registry holds, used in error messages ("descriptor").
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._classes: Dict[str, type] = {}
        self._aliases: Dict[str, Tuple[str, ...]] = {}

    def register(self, name: str, alias: Iterable[str] = ()) -> Callable[[Type], Type]:
        """Decorator registering ``cls`` under ``name`` (and its aliases)."""

        def decorator(cls: Type) -> Type:
            if name in self._classes:
                raise RuntimeError(f"{self.kind} {name!r} is registered twice")
            self._classes[name] = cls
            self._aliases[name] = tuple(alias)
            cls.registered_name = name
            return cls

        return decorator

    def names(self) -> list:
        """Canonical names in registration order."""
        return list(self._classes)

    def aliases(self, name: str) -> Tuple[str, ...]:
        return self._aliases[name]

    def canonical(self, name: str) -> str:
        """Resolve an alias; raise KeyError with a suggestion if unknown."""
        if name in self._classes:
            return name
        for key, aliases in self._aliases.items():
            if name in aliases:
                return key
        every = self.names() + [a for al in self._aliases.values() for a in al]
        hint = difflib.get_close_matches(name, every, n=1)
        extra = f" Did you mean {hint[0]!r}?" if hint else ""
        raise KeyError(
            f"unknown {self.kind} type {name!r}; known: {', '.join(self.names())}.{extra}"
        )

    def get(self, name: str) -> Type:
        return self._classes[self.canonical(name)]

    def items(self):
        return self._classes.items()
