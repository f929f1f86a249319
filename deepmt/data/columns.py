"""Layout of one file of a set and its block in a batch.

A :class:`Column` knows which per-frame sizes a file may have and how to
turn the rows of a batch (``bs x size``, as stored) into the batch layout:
atoms stably sorted by type, tensor labels of selected types in type order,
values repeated when asked (``atom_pref`` x3).
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from deepmt.data.requirement import DataRequirement
from deepmt.errors import DataError


def _identity_or(perm: np.ndarray) -> Optional[np.ndarray]:
    return None if np.array_equal(perm, np.arange(perm.size)) else perm


class Column:
    """One key of a set.

    Parameters
    ----------
    requirement
        What is read (key, ndof, atomic, type_sel, repeat, default, must).
    atom_types
        int ``[natoms]``: model type of every atom, in ``type.raw`` order.

    Attributes
    ----------
    perms
        accepted per-frame size -> atom gather index (None: keep the order).
    out_size
        values per frame in the batch.
    nsel
        atoms covered by an atomic label (all atoms unless ``type_sel``).
    """

    def __init__(self, requirement: DataRequirement, atom_types: np.ndarray):
        self.req = requirement
        self.key = requirement.key
        ndof = requirement.ndof
        if not requirement.atomic:
            self.nsel = 0
            self.perms: Dict[int, Optional[np.ndarray]] = {ndof: None}
        else:
            natoms = atom_types.size
            if requirement.type_sel is None:
                sel_user = np.arange(natoms)
            else:
                sel_user = np.flatnonzero(np.isin(atom_types, requirement.type_sel))
            # stable type sort of the selected atoms, in two index spaces:
            # into the file's selected-atoms block and into a full-atom block
            order = np.argsort(atom_types[sel_user], kind="stable")
            self.nsel = sel_user.size
            self.perms = {natoms * ndof: _identity_or(sel_user[order])}
            self.perms[self.nsel * ndof] = _identity_or(order)
        self.out_size = requirement.output_ndof(self.nsel)

    def check_shape(self, shape: Tuple[int, ...], nframes: int, where: str,
                    coord_where: str) -> int:
        """Validate a file shape against the set's frame count.

        Returns
        -------
        int
            values per frame in the file.

        Raises
        ------
        DataError
            The frame count differs from ``coord`` or the per-frame size is
            none of the accepted ones.
        """
        total = int(np.prod(shape))
        accepted = " or ".join(str(a) for a in sorted(self.perms))
        if len(shape) >= 2:
            per = total // shape[0] if shape[0] else 0
            if shape[0] != nframes:
                raise DataError(
                    f"{where} has {shape[0]} frames (shape {tuple(shape)}) but "
                    f"{coord_where} has {nframes}; every file of a set must hold the "
                    "same frames.")
            if per not in self.perms:
                raise DataError(
                    f"{where} has {per} values per frame (shape {tuple(shape)}), "
                    f"expected {accepted} for {self._what()}.")
            return per
        # a flat file: frames x values, concatenated
        for size in self.perms:
            if total == nframes * size:
                return size
        if list(self.perms) == [1]:
            raise DataError(
                f"{where} has {total} frames (shape {tuple(shape)}) but {coord_where} "
                f"has {nframes}; every file of a set must hold the same frames.")
        raise DataError(
            f"{where} holds {total} values (shape {tuple(shape)}); expected {nframes} "
            f"frames x {accepted} values for {self._what()}.")

    def _what(self) -> str:
        req = self.req
        if not req.atomic:
            return f"{req.ndof} value(s) per frame"
        sel = "" if req.type_sel is None else f" of types {list(req.type_sel)} ({self.nsel} atoms)"
        return f"{req.ndof} value(s) per atom{sel}"

    def take(self, rows: np.ndarray, size: int) -> np.ndarray:
        """Stored rows ``bs x size`` -> float64 batch block ``bs x out_size``."""
        out = np.asarray(rows, dtype=np.float64)
        perm = self.perms[size]
        ndof, repeat = self.req.ndof, self.req.repeat
        if perm is not None:
            out = out.reshape(out.shape[0], -1, ndof)[:, perm]
        if repeat > 1:
            out = np.repeat(out.reshape(out.shape[0], -1, ndof), repeat, axis=2)
        return out.reshape(out.shape[0], self.out_size)

    def fill(self, nframes: int) -> np.ndarray:
        """Default block ``nframes x out_size`` for a set without the file."""
        return np.full((nframes, self.out_size), self.req.default, dtype=np.float64)


def coord_column(atom_types: np.ndarray) -> Column:
    """Coordinates: 3 values per atom, atoms sorted by type."""
    return Column(DataRequirement("coord", 3, atomic=True, must=True), atom_types)


def box_column(atom_types: np.ndarray) -> Column:
    """Cell: 9 values per frame, rows are cell vectors."""
    return Column(DataRequirement("box", 9, must=True), atom_types)


def label_columns(requirements: Sequence[DataRequirement],
                  atom_types: np.ndarray) -> Tuple[Column, ...]:
    """One column per requirement."""
    return tuple(Column(req, atom_types) for req in requirements)
