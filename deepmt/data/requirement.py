"""What a loss or a fitting needs from the data: :class:`DataRequirement`.

There is no global registry of requirements: each head hands its own list to
the data it trains on, so two heads reading the same folder may load
different labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional, Tuple


@dataclass(frozen=True)
class DataRequirement:
    """One label read from every set of a system.

    Parameters
    ----------
    key
        Label name; the file is ``<key>.npy`` (``<key>.raw`` in the raw
        layout) and the batch carries ``<key>`` and ``find_<key>``.
    ndof
        Values per atom when ``atomic``, per frame otherwise.
    atomic
        The label has one block of ``ndof`` values per atom; atoms are
        reordered with the system's type sort.
    must
        A set lacking the file is an error instead of falling back to
        ``default`` with ``find_<key> = 0``.
    high_prec
        Kept for compatibility with DeePMD-kit requirement lists; deepmt
        always returns float64 labels.
    type_sel
        For atomic labels: model type ids of the atoms the label covers
        (``atomic_dipole`` of O atoms only). The batch then holds
        ``nsel x ndof`` values per frame, ``nsel`` being the number of atoms
        of those types.
    repeat
        Every value is repeated this many times in the batch
        (``atom_pref`` with ``ndof=1, repeat=3`` gives one weight per force
        component).
    default
        Value used when the file is absent and ``must`` is false.
    """

    key: str
    ndof: int
    atomic: bool = False
    must: bool = False
    high_prec: bool = False
    type_sel: Optional[Tuple[int, ...]] = None
    repeat: int = 1
    default: float = 0.0

    def __post_init__(self):
        if not isinstance(self.key, str) or not self.key:
            raise ValueError(f"DataRequirement key must be a non-empty string, got {self.key!r}")
        if int(self.ndof) != self.ndof or self.ndof < 1:
            raise ValueError(f"DataRequirement {self.key!r}: ndof must be a positive int")
        if int(self.repeat) != self.repeat or self.repeat < 1:
            raise ValueError(f"DataRequirement {self.key!r}: repeat must be a positive int")
        if self.type_sel is not None:
            if not self.atomic:
                raise ValueError(f"DataRequirement {self.key!r}: type_sel needs atomic=True")
            object.__setattr__(self, "type_sel", tuple(sorted({int(t) for t in self.type_sel})))

    def output_ndof(self, natoms_sel: int = 1) -> int:
        """Values per frame in a batch: ``natoms_sel * ndof * repeat`` (atomic)
        or ``ndof * repeat``."""
        per_unit = self.ndof * self.repeat
        return natoms_sel * per_unit if self.atomic else per_unit


def merge_requirements(requirements: Iterable[DataRequirement]) -> Tuple[DataRequirement, ...]:
    """Drop duplicates (same key, same definition), keep the first order.

    Raises
    ------
    ValueError
        Two requirements share a key but differ (a programming error of the
        losses/fittings involved, not a user mistake).
    """
    seen = {}
    for req in requirements:
        if not isinstance(req, DataRequirement):
            raise TypeError(f"expected DataRequirement, got {type(req).__name__}")
        old = seen.get(req.key)
        if old is None:
            seen[req.key] = req
        elif old != req:
            raise ValueError(f"conflicting data requirements for {req.key!r}: {old} and {req}")
    return tuple(seen.values())
