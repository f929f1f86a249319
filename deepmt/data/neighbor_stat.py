"""Neighbour statistics of data systems, to choose ``sel``.

``min_nbor_dist`` is the smallest distance between an atom and any atom or
periodic image (its own images included) within ``rcut``; ``max_nbor_size``
is, per neighbour type, the largest number of neighbours within ``rcut`` of
any atom over every frame. Both come from one call of the compiled
environment-matrix op per chunk of frames, with one slot per type: the op
counts the neighbours before truncating to ``sel`` (``max_nnei``) and keeps
the nearest neighbour of each type, whose ``rij`` gives the distance.
"""

from __future__ import annotations

import logging
from typing import Sequence, Tuple

import numpy as np

from deepmt.errors import DataError

log = logging.getLogger(__name__)

#: distances (Å) at or below this are coinciding atoms
_COINCIDE = 1e-8


def auto_sel(max_nnei, factor: float = 1.1) -> np.ndarray:
    """``sel: "auto:factor"``: ``4 * ((int(max * factor) + 3) // 4)`` per type."""
    return np.array([4 * ((int(m * factor) + 3) // 4) for m in np.ravel(max_nnei)],
                    dtype=np.int64)


def neighbor_stat(systems: Sequence, rcut: float, ntypes: int, *, one_type: bool = False,
                  chunk: int = 32) -> Tuple[float, np.ndarray]:
    """Minimum neighbour distance and per-type maximum neighbour count.

    Parameters
    ----------
    systems
        :class:`deepmt.data.DataSystem` objects (every frame of every set is
        scanned; their labels are not read).
    rcut
        Cut-off radius (Å).
    ntypes
        Model type count (length of the returned counts).
    one_type
        Count neighbours of all types together (the result has length 1).
    chunk
        Frames per op call.

    Returns
    -------
    min_dist : float
        Å; ``inf`` if no atom has a neighbour within ``rcut``.
    max_nnei : np.ndarray
        int64 ``[ntypes]`` (``[1]`` with ``one_type``).

    Raises
    ------
    DataError
        Two atoms (or an atom and an image) of a frame coincide.
    """
    from deepmt import op

    nt = 1 if one_type else int(ntypes)
    min_dist, max_nnei = np.inf, np.zeros(nt, dtype=np.int64)
    for system in systems:
        lonely = False
        for set_name, frames, batch in system.iter_frames(chunk):
            closest, counts, alone = _scan(op, system, batch, rcut, nt, one_type)
            if (closest <= _COINCIDE).any():
                frame = int(frames[int(np.flatnonzero(closest <= _COINCIDE)[0])])
                raise DataError(
                    f"data system {system.path!r}: two atoms (or an atom and a periodic "
                    f"image) coincide in frame {frame} of set {set_name}.")
            min_dist = min(min_dist, float(closest.min()))
            max_nnei = np.maximum(max_nnei, counts)
            lonely = lonely or alone
        if lonely:
            log.warning("data system %s: some atoms have no neighbour within rcut = %g",
                        system.path, rcut)
    return min_dist, max_nnei


def _scan(op, system, batch: dict, rcut: float, nt: int, one_type: bool):
    """Per frame the nearest neighbour distance ``[nf]`` (inf if none), the
    per-type maximum counts ``[nt]``, and whether some atom has no neighbour.

    With one slot per type the op keeps each atom's nearest neighbour of
    every type (truncation drops the farthest) and still reports the full
    counts in ``max_nnei``.
    """
    coord, nat = batch["coord"], system.natoms
    atype = batch["type"][0] * (0 if one_type else 1)
    box = batch["box"] if system.pbc else None
    out = op.env_mat_r(coord, atype, box, rcut=rcut, rcut_smth=rcut, sel=[1] * nt)
    nf = coord.shape[0]
    counts = np.asarray(out["max_nnei"]).reshape(nf, nt).max(axis=0).astype(np.int64)
    nlist = np.asarray(out["nlist"]).reshape(nf, nat, nt)
    rij = np.asarray(out["rij"]).reshape(nf, nat, nt, 3)
    dist = np.where(nlist >= 0, np.linalg.norm(rij, axis=-1), np.inf)
    alone = bool((nlist < 0).all(axis=2).any())
    return dist.reshape(nf, -1).min(axis=1), counts, alone
