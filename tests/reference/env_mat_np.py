"""Brute-force NumPy environment matrix (the oracle of DmtEnvMatA / DmtEnvMatR).

Written from the rules of the shared reference (§2.1-2.6, DeePMD-kit 2.2.11):

* switching function ``w(r)`` with ``u = (r - rs) / (rc - rs)``;
* se_e2_a rows ``(w/r, w x/r^2, w y/r^2, w z/r^2)`` and se_e2_r rows ``w/r``,
  derivatives stored with respect to the *centre* atom, divided by ``dstd``;
* candidates: other atoms (periodic images included) with double
  ``r^2 < float32(rc)^2`` and float32 ``r^2 <= float32(rc)^2``, sorted by
  ``(type, float32 r^2, index in the extended list)``; type blocks of
  ``sel[t]`` slots, nearest first, farthest dropped, ``-1`` padding;
* periodic images by replicating the wrapped cell ``ceil(rcut / d_face)``
  times each side (no cell list); ``nlist`` is mapped back to local atoms
  and ``rij`` is the image displacement;
* every slot is normalized, so an empty slot holds ``-davg/dstd``;
* a virtual atom (type < 0) is never a neighbour; as a centre it keeps its
  ``nlist``/``rij`` but its rows and derivatives are zero.

The extended list of this oracle is "local atoms, then the other images
shift by shift", which is *not* the op's cell-list order: the two agree on
index tie-breaks only when no two candidates of the same type share a float32
``r^2``.  :func:`env_mat` therefore also returns every centre's sorted
candidates and a per-centre ``tied`` flag so that tests can compare such
slots as sets (see :mod:`reference.compare`).

Units: Å for coordinates and ``rcut``; rows in 1/Å, derivatives in 1/Å^2.
"""

from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence

import numpy as np

F32 = np.float32


def switch(r: np.ndarray, rcut: float, rcut_smth: float):
    """Smooth switching function and its radial derivative.

    Parameters
    ----------
    r
        Distances, any shape, Å (float64).
    rcut, rcut_smth
        Cut-off radii; treated as the float32 attributes of the op.

    Returns
    -------
    w, dw
        ``w(r)`` (1 below ``rcut_smth``, 0 from ``rcut`` on) and ``dw/dr``
        (1/Å), both with the shape of ``r``.
    """
    rs = float(F32(rcut_smth))
    rc = float(F32(rcut))
    # the op subtracts the two float attributes in float32
    width = float(F32(rc) - F32(rs))
    r = np.asarray(r, dtype=np.float64)
    u = (r - rs) / width
    inner = r < rs
    outer = r >= rc
    poly = u * u * u * (-6.0 * u * u + 15.0 * u - 10.0) + 1.0
    dpoly = -30.0 * u * u * (1.0 - u) * (1.0 - u) / width
    w = np.where(inner, 1.0, np.where(outer, 0.0, poly))
    dw = np.where(inner | outer, 0.0, dpoly)
    return w, dw


def env_rows(rij: np.ndarray, filled: np.ndarray, rcut: float, rcut_smth: float,
             kind: str = "a"):
    """Raw (un-normalized) environment rows and their centre derivatives.

    Parameters
    ----------
    rij
        ``... x 3`` displacement ``r_j - r_i`` (Å).
    filled
        ``...`` bool; ``False`` marks an empty slot (row and derivative 0).
    kind
        ``"a"`` (4 components) or ``"r"`` (1 component).

    Returns
    -------
    rows, deriv
        ``... x ncomp`` and ``... x ncomp x 3``; ``deriv[..., c, d]`` is
        ``dR_c / dr_{i,d}`` (centre), i.e. minus the derivative with respect
        to the neighbour position.
    """
    x = np.where(filled[..., None], rij, 1.0)
    r2 = np.sum(x * x, axis=-1)
    r = np.sqrt(r2)
    w, dw = switch(r, rcut, rcut_smth)
    # d(w/r)/dx_d = x_d / r * (w'/r - w/r^2)
    d_rad = x * ((dw / r - w / r2) / r)[..., None]
    if kind == "r":
        rows = (w / r)[..., None]
        deriv = -d_rad[..., None, :]
    elif kind == "a":
        ang = x * (w / r2)[..., None]
        rows = np.concatenate([(w / r)[..., None], ang], axis=-1)
        outer = x[..., :, None] * x[..., None, :]
        # d(w x_c/r^2)/dx_d = w (delta_cd/r^2 - 2 x_c x_d/r^4) + w' x_c x_d/r^3
        d_ang = (w / r2)[..., None, None] * np.eye(3) \
            + outer * ((dw / r - 2.0 * w / r2) / r2)[..., None, None]
        deriv = -np.concatenate([d_rad[..., None, :], d_ang], axis=-2)
    else:
        raise ValueError(f"unknown env-matrix kind {kind!r}")
    rows = np.where(filled[..., None], rows, 0.0)
    deriv = np.where(filled[..., None, None], deriv, 0.0)
    return rows, deriv


def face_distances(box: np.ndarray) -> np.ndarray:
    """Distances between opposite faces of a cell (rows = cell vectors), Å."""
    box = np.asarray(box, dtype=np.float64).reshape(3, 3)
    volume = abs(np.linalg.det(box))
    areas = np.array([np.linalg.norm(np.cross(box[(d + 1) % 3], box[(d + 2) % 3]))
                      for d in range(3)])
    return volume / areas


def wrap(coord: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Wrap ``nat x 3`` coordinates into the cell (fractional part in [0, 1))."""
    box = np.asarray(box, dtype=np.float64).reshape(3, 3)
    frac = coord @ np.linalg.inv(box)
    frac = frac - np.floor(frac)
    return frac @ box


def replicate(coord: np.ndarray, atype: np.ndarray, box: np.ndarray, rcut: float):
    """Extended atom list by brute-force replication of the wrapped cell.

    Returns
    -------
    ext_coord, ext_type, mapping
        ``nall x 3``, ``nall``, ``nall``: the local atoms first (wrapped),
        then every other image shift ``n`` in ``[-k, k]^3`` (lexicographic,
        ``k_d = ceil(rcut / d_face)``), all atoms per shift; ``mapping`` gives
        the local atom of each entry.
    """
    box = np.asarray(box, dtype=np.float64).reshape(3, 3)
    local = wrap(coord, box)
    reps = [int(math.ceil(float(F32(rcut)) / d)) for d in face_distances(box)]
    shifts = [(a, b, c) for a in range(-reps[0], reps[0] + 1)
              for b in range(-reps[1], reps[1] + 1)
              for c in range(-reps[2], reps[2] + 1) if (a, b, c) != (0, 0, 0)]
    nat = len(atype)
    parts = [local] + [local + np.asarray(s, dtype=np.float64) @ box for s in shifts]
    ext_coord = np.concatenate(parts, axis=0)
    ext_type = np.tile(atype, len(shifts) + 1)
    mapping = np.tile(np.arange(nat), len(shifts) + 1)
    return ext_coord, ext_type, mapping


def _key32(ext_coord: np.ndarray, i: int, cand: np.ndarray) -> np.ndarray:
    """float32 squared distance from centre ``i``: cast, subtract, x*x+y*y+z*z."""
    diff = ext_coord[cand].astype(F32) - ext_coord[i].astype(F32)
    return (diff[:, 0] * diff[:, 0] + diff[:, 1] * diff[:, 1]) + diff[:, 2] * diff[:, 2]


def sorted_candidates(ext_coord, ext_type, i, rcut, cand=None):
    """Sorted neighbour candidates of centre ``i`` in the extended list.

    Parameters
    ----------
    cand
        Candidate extended indices (external neighbour list); ``None``
        searches every extended atom and applies the double-precision
        ``r^2 < rc^2`` pre-filter of the op's own search.

    Returns
    -------
    idx, key
        Extended indices and float32 ``r^2`` sorted by ``(type, key, idx)``.
    """
    rc2 = F32(rcut) * F32(rcut)
    if cand is None:
        cand = np.arange(len(ext_type))
        cand = cand[cand != i]
        diff = ext_coord[cand] - ext_coord[i]
        cand = cand[np.sum(diff * diff, axis=1) < float(rc2)]
    cand = np.asarray(cand, dtype=np.int64)
    cand = cand[ext_type[cand] >= 0]
    key = _key32(ext_coord, i, cand)
    keep = key <= rc2
    cand, key = cand[keep], key[keep]
    order = np.lexsort((cand, key, ext_type[cand]))
    return cand[order], key[order]


def _has_tie(ctype: np.ndarray, key: np.ndarray, rtol: float) -> bool:
    """True if two candidates of one type have (nearly) equal float32 r^2."""
    if len(key) < 2:
        return False
    same_type = ctype[1:] == ctype[:-1]
    close = np.abs(key[1:].astype(np.float64) - key[:-1]) <= rtol * key[1:]
    return bool(np.any(same_type & close))


def _frame_neighbors(coord, atype, box, rcut, sel, nloc, neighbor_list, tie_rtol):
    """Neighbour slots of one frame; see :func:`env_mat` for the rules."""
    ntypes = len(sel)
    offsets = np.concatenate([[0], np.cumsum(sel)]).astype(int)
    if neighbor_list is None and box is not None:
        ext_coord, ext_type, mapping = replicate(coord, atype, box, rcut)
    else:
        # no PBC, or ghosts given by the caller: indices stay extended indices
        ext_coord, ext_type, mapping = coord, atype, np.arange(len(atype))
    slots = -np.ones((nloc, offsets[-1]), dtype=np.int64)
    counts = np.zeros((nloc, ntypes), dtype=np.int64)
    tied = np.zeros(nloc, dtype=bool)
    cands = []
    for i in range(nloc):
        given = None if neighbor_list is None else neighbor_list[i]
        idx, key = sorted_candidates(ext_coord, ext_type, i, rcut, given)
        ctype = ext_type[idx]
        for t in range(ntypes):
            of_t = idx[ctype == t]
            counts[i, t] = len(of_t)
            take = of_t[:sel[t]]
            slots[i, offsets[t]:offsets[t] + len(take)] = take
        tied[i] = _has_tie(ctype, key, tie_rtol)
        cands.append({"local": mapping[idx], "type": ctype, "key": key,
                      "rij": ext_coord[idx] - ext_coord[i]})
    filled = slots >= 0
    rij = np.where(filled[..., None], ext_coord[np.maximum(slots, 0)] - ext_coord[:nloc, None, :], 0.0)
    nlist = np.where(filled, mapping[np.maximum(slots, 0)], -1)
    return nlist, rij, counts, tied, cands


def normalize(rows, deriv, centre_type, davg, dstd):
    """Apply ``(R - davg[t_i]) / dstd[t_i]`` and ``deriv / dstd[t_i]``.

    A virtual centre (type < 0) gets all-zero rows and derivatives.

    Parameters
    ----------
    rows, deriv
        ``nloc x nnei x ncomp`` and ``nloc x nnei x ncomp x 3``.
    centre_type
        ``nloc`` centre types (index into ``davg``/``dstd``).
    davg, dstd
        ``ntypes x (nnei*ncomp)``.
    """
    nloc, nnei, ncomp = rows.shape
    real = np.asarray(centre_type) >= 0
    safe = np.where(real, centre_type, 0)
    avg = np.asarray(davg, dtype=np.float64)[safe].reshape(nloc, nnei, ncomp)
    std = np.asarray(dstd, dtype=np.float64)[safe].reshape(nloc, nnei, ncomp)
    mask = real[:, None, None]
    return np.where(mask, (rows - avg) / std, 0.0), np.where(mask[..., None], deriv / std[..., None], 0.0)


def rows_from_rij(rij, nlist, centre_type, davg, dstd, *, rcut, rcut_smth, kind="a"):
    """Normalized descriptor of one frame from given slots (``nlist``, ``rij``).

    Used to check the op's arithmetic independently of its neighbour order.
    ``rij`` is ``nloc x nnei x 3``, ``nlist`` ``nloc x nnei``; returns
    ``descrpt [nloc x nnei x ncomp]`` and ``deriv [nloc x nnei x ncomp x 3]``.
    """
    rows, deriv = env_rows(rij, nlist >= 0, rcut, rcut_smth, kind)
    return normalize(rows, deriv, centre_type, davg, dstd)


def _as_frames(coord, atype, box):
    coord = np.asarray(coord, dtype=np.float64)
    nf = coord.shape[0]
    nat = coord.shape[1] // 3
    atype = np.asarray(atype, dtype=np.int64)
    if atype.ndim == 1:
        atype = np.broadcast_to(atype, (nf, nat))
    boxes = None if box is None else np.asarray(box, dtype=np.float64).reshape(nf, 3, 3)
    return coord.reshape(nf, nat, 3), atype, boxes


def env_mat(coord, atype, box, *, rcut: float, rcut_smth: float, sel: Sequence[int],
            davg=None, dstd=None, kind: str = "a", nloc: Optional[int] = None,
            neighbor_list: Optional[List[np.ndarray]] = None,
            tie_rtol: float = 0.0) -> Dict[str, object]:
    """Environment matrix of every frame, in the op's output layout.

    Parameters
    ----------
    coord
        ``nf x (nat*3)`` coordinates (Å); with ``neighbor_list`` the first
        ``nloc`` atoms are local and the rest are ghosts.
    atype
        ``nf x nat`` or ``nat`` types ``< ntypes``, any order; a negative
        type marks a virtual atom: never a neighbour, and as a centre its
        slots are filled but its rows and derivatives are all zero.
    box
        ``nf x 9`` cells (rows are cell vectors) or ``None`` (no PBC).
    sel
        Slots per neighbour type; ``N = sum(sel)``.
    davg, dstd
        ``ntypes x (N*ncomp)``; default 0 and 1 (raw rows).
    kind
        ``"a"`` (se_e2_a, ncomp 4) or ``"r"`` (se_e2_r, ncomp 1).
    neighbor_list
        External list: ``nloc`` arrays of extended indices; ``nlist`` then
        holds extended indices and no image is built.
    tie_rtol
        Relative tolerance under which two float32 keys count as tied.

    Returns
    -------
    dict
        ``descrpt [nf x nloc*N*ncomp]``, ``descrpt_deriv [nf x nloc*N*ncomp*3]``,
        ``rij [nf x nloc*N*3]``, ``nlist [nf x nloc*N]`` (int32),
        ``max_nnei [nf x ntypes]`` (int32, over real centres: virtual ones
        are ignored), ``tied [nf x nloc]`` (bool),
        ``candidates`` (per frame, per centre: sorted ``local``, ``type``,
        ``key`` and ``rij`` of every candidate before truncation).
    """
    coord3, atypes, boxes = _as_frames(coord, atype, box)
    nf, nat = atypes.shape
    nloc = nat if nloc is None else nloc
    ncomp = 4 if kind == "a" else 1
    ntypes, nnei = len(sel), int(sum(sel))
    if np.any(atypes >= ntypes):
        raise ValueError("oracle: atom types must be < ntypes")
    davg = np.zeros((ntypes, nnei * ncomp)) if davg is None else davg
    dstd = np.ones((ntypes, nnei * ncomp)) if dstd is None else dstd
    out = {k: [] for k in ("descrpt", "descrpt_deriv", "rij", "nlist", "max_nnei", "tied", "candidates")}
    for f in range(nf):
        fbox = None if boxes is None else boxes[f]
        nlist, rij, counts, tied, cands = _frame_neighbors(
            coord3[f], atypes[f], fbox, rcut, sel, nloc, neighbor_list, tie_rtol)
        desc, deriv = rows_from_rij(rij, nlist, atypes[f, :nloc], davg, dstd,
                                    rcut=rcut, rcut_smth=rcut_smth, kind=kind)
        out["descrpt"].append(desc.reshape(-1))
        out["descrpt_deriv"].append(deriv.reshape(-1))
        out["rij"].append(rij.reshape(-1))
        out["nlist"].append(nlist.reshape(-1))
        real = counts[atypes[f, :nloc] >= 0]
        out["max_nnei"].append(real.max(axis=0) if len(real) else np.zeros(ntypes, int))
        out["tied"].append(tied)
        out["candidates"].append(cands)
    result = {k: np.stack(v) for k, v in out.items() if k != "candidates"}
    result["nlist"] = result["nlist"].astype(np.int32)
    result["max_nnei"] = result["max_nnei"].astype(np.int32)
    result["candidates"] = out["candidates"]
    return result


def env_mat_a(coord, atype, box, **kwargs):
    """se_e2_a environment matrix; see :func:`env_mat`."""
    return env_mat(coord, atype, box, kind="a", **kwargs)


def env_mat_r(coord, atype, box, **kwargs):
    """se_e2_r (radial) environment matrix; see :func:`env_mat`."""
    return env_mat(coord, atype, box, kind="r", **kwargs)
