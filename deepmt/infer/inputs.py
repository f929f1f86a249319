"""Checking and arranging user arrays before they are fed to a frozen graph.

The frozen graph wants the atoms of every frame grouped by type (a stable
sort), the types repeated for every frame, a ``natoms`` vector and a mesh
whose length selects the neighbour mode.  Users hand over atoms in any order;
this module validates the arrays, sorts the atoms and remembers how to undo
the sort on the outputs.  Everything here is NumPy only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from deepmt.errors import InputError
from deepmt.op import make_mesh


@dataclass(frozen=True)
class Frames:
    """Frames ready to be fed, atoms sorted by type.

    Attributes
    ----------
    coord
        ``nf x nat x 3`` float64 coordinates (Å), atoms sorted by type.
    box
        ``nf x 9`` float64 cells (rows are cell vectors); zeros without PBC.
    atype
        ``nat`` int32 model type ids, sorted.
    natoms_vec
        ``2 + ntypes`` int32: ``[nat, nat, n_0, ..., n_{ntypes-1}]``.
    mesh
        int32 mesh: length 6 with PBC, 0 without.
    sort_index
        ``nat`` permutation: sorted atom ``k`` is input atom ``sort_index[k]``.
    pbc
        Whether the frames are periodic.
    """

    coord: np.ndarray
    box: np.ndarray
    atype: np.ndarray
    natoms_vec: np.ndarray
    mesh: np.ndarray
    sort_index: np.ndarray
    pbc: bool

    @property
    def nframes(self) -> int:
        return self.coord.shape[0]

    @property
    def natoms(self) -> int:
        return self.atype.shape[0]

    def sort_atoms(self, array: np.ndarray, axis: int = 1) -> np.ndarray:
        """Reorder a per-atom array given in input order into sorted order."""
        return np.take(array, self.sort_index, axis=axis)

    def unsort_atoms(self, array: np.ndarray, axis: int = 1) -> np.ndarray:
        """Reorder a per-atom array given in sorted order back to input order."""
        return np.take(array, np.argsort(self.sort_index), axis=axis)

    def selected_input_order(self, sel_type: Sequence[int]) -> np.ndarray:
        """Permutation putting the sorted selected atoms in input order.

        A tensor head outputs one row per atom whose type is in ``sel_type``,
        in sorted order.  ``rows[:, perm]`` lists the same atoms in the order
        they have in the user's arrays.
        """
        mask = np.isin(self.atype, np.asarray(sel_type, dtype=np.int64))
        return np.argsort(self.sort_index[mask], kind="stable")


def check_types(atom_types, ntypes: int, type_map: Sequence[str] = ()) -> np.ndarray:
    """Validate ``atom_types`` (``nat`` ints, or ``nf x nat`` equal rows).

    ``ntypes`` is the model's number of types; ``type_map`` (may be empty)
    only serves the error messages.

    Returns
    -------
    numpy.ndarray
        ``nat`` int64 model type ids.
    """
    types = np.asarray(atom_types)
    if types.ndim == 2 and types.shape[0] >= 1:
        if not np.all(types == types[:1]):
            raise InputError(
                "atom_types must be the same for every frame: pass one array of "
                f"shape [natoms]; got shape {types.shape} with differing rows."
            )
        types = types[0]
    if types.ndim != 1 or types.size == 0:
        raise InputError(
            f"atom_types must be a non-empty 1-D array of type ids; got shape {types.shape}."
        )
    if types.dtype.kind not in "iu":
        raise InputError(
            f"atom_types must hold integers (model type ids 0..{ntypes - 1}); "
            f"got dtype {types.dtype}."
        )
    bad = np.flatnonzero((types < 0) | (types >= ntypes))
    if bad.size:
        names = f" for the type map {list(type_map)}" if type_map else ""
        raise InputError(
            f"atom_types[{bad[0]}] = {types[bad[0]]} is not a type of this model: "
            f"valid ids are 0..{ntypes - 1}{names} ({bad.size} atom(s) out of range)."
        )
    return types.astype(np.int64)


def check_coords(coords, natoms: int) -> np.ndarray:
    """Reshape coordinates to ``nf x nat x 3`` float64 and check them."""
    array = np.asarray(coords, dtype=np.float64)
    if array.size == 0 or array.size % (natoms * 3) != 0:
        raise InputError(
            f"coords must hold nframes x {natoms} atoms x 3 numbers (one row per frame, "
            f"atoms in the order of atom_types); got shape {array.shape} "
            f"({array.size} numbers)."
        )
    array = array.reshape(-1, natoms, 3)
    if not np.all(np.isfinite(array)):
        frame = int(np.flatnonzero(~np.isfinite(array).all(axis=(1, 2)))[0])
        raise InputError(f"coords of frame {frame} contain NaN or infinite values.")
    return array


def check_cells(cells, nframes: int) -> Optional[np.ndarray]:
    """Reshape cells to ``nf x 9`` (a single cell is repeated) or ``None``."""
    if cells is None:
        return None
    array = np.asarray(cells, dtype=np.float64)
    if array.size == 9 and nframes > 1:
        array = np.tile(array.reshape(1, 9), (nframes, 1))
    if array.size != nframes * 9:
        raise InputError(
            f"cells must be nframes x 9 (or nframes x 3 x 3) with nframes = {nframes} "
            f"taken from coords, or None for a non-periodic system; got shape {array.shape}."
        )
    array = array.reshape(nframes, 9)
    volume = np.linalg.det(array.reshape(nframes, 3, 3))
    bad = np.flatnonzero(~np.isfinite(volume) | (np.abs(volume) < 1e-10))
    if bad.size:
        raise InputError(
            f"the cell of frame {bad[0]} is singular (volume {volume[bad[0]]:g} Å^3); "
            "pass cells=None for a non-periodic system."
        )
    return array


def prepare_frames(coords, cells, atom_types, ntypes: int,
                   type_map: Sequence[str] = ()) -> Frames:
    """Validate the user arrays and sort the atoms by type.

    Parameters
    ----------
    coords
        Anything reshapeable to ``nf x nat x 3`` (Å).
    cells
        ``nf x 9`` or ``nf x 3 x 3`` cells (Å), or ``None`` for no PBC.
    atom_types
        ``nat`` model type ids.
    ntypes
        The model's number of types.
    type_map
        The model's type names, for error messages (may be empty).

    Returns
    -------
    Frames
    """
    types = check_types(atom_types, ntypes, type_map)
    coord = check_coords(coords, types.size)
    box = check_cells(cells, coord.shape[0])
    sort_index = np.argsort(types, kind="stable")
    counts = np.bincount(types, minlength=ntypes)
    natoms_vec = np.concatenate([[types.size, types.size], counts]).astype(np.int32)
    pbc = box is not None
    return Frames(
        coord=np.ascontiguousarray(coord[:, sort_index]),
        box=box if pbc else np.zeros((coord.shape[0], 9)),
        atype=types[sort_index].astype(np.int32),
        natoms_vec=natoms_vec,
        mesh=make_mesh(pbc),
        sort_index=sort_index,
        pbc=pbc,
    )


def frame_param(fparam, frames: Frames, dim: int, head: str) -> np.ndarray:
    """Frame parameters as ``nf x dim`` (a single ``dim`` row is repeated)."""
    if fparam is None:
        raise InputError(
            f"head {head!r} needs fparam ({dim} number(s) per frame), but none was given."
        )
    array = np.asarray(fparam, dtype=np.float64)
    nf = frames.nframes
    if array.size == dim:
        array = np.tile(array.reshape(1, dim), (nf, 1))
    if array.size != nf * dim:
        raise InputError(
            f"fparam of head {head!r} must be [{nf}, {dim}] (nframes x dim_fparam) or "
            f"[{dim}]; got shape {array.shape}."
        )
    return array.reshape(nf, dim)


def atom_param(aparam, frames: Frames, dim: int, head: str) -> np.ndarray:
    """Atomic parameters as ``nf x nat x dim`` in sorted atom order.

    Accepts ``nf x nat x dim``, ``nat x dim`` or ``dim`` (repeated), atoms in
    the order of ``atom_types``.
    """
    if aparam is None:
        raise InputError(
            f"head {head!r} needs aparam ({dim} number(s) per atom), but none was given."
        )
    array = np.asarray(aparam, dtype=np.float64)
    nf, nat = frames.nframes, frames.natoms
    if array.size == dim:
        array = np.tile(array.reshape(1, 1, dim), (nf, nat, 1))
    elif array.size == nat * dim:
        array = np.tile(array.reshape(1, nat, dim), (nf, 1, 1))
    if array.size != nf * nat * dim:
        raise InputError(
            f"aparam of head {head!r} must be [{nf}, {nat}, {dim}] "
            f"(nframes x natoms x dim_aparam), [{nat}, {dim}] or [{dim}]; "
            f"got shape {array.shape}."
        )
    return frames.sort_atoms(array.reshape(nf, nat, dim), axis=1)
