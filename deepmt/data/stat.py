"""Output statistics from a stat sample (NumPy only).

A *stat sample* is ``list[list[batch]]``: for every system of a data block,
``data_stat_nbatch`` consecutive batches of that system
(:func:`make_stat_sample`). In multi-task training every head makes its own
sample from its own data; the energy bias, the polarizability shift and the
fparam/aparam statistics of a head use that head's sample only, while the
shared descriptor pools the frames of all heads (:func:`pool_frames`).
"""

from __future__ import annotations

import logging
from typing import List, Optional, Sequence, Tuple

import numpy as np

log = logging.getLogger(__name__)

StatSample = List[List[dict]]


def make_stat_sample(data, nbatch: int) -> StatSample:
    """``nbatch`` batches of every system of ``data`` (a ``MultiSystemData``).

    The draws advance the systems' iterators, as in DeePMD-kit.
    """
    return [[data.get_batch(sys_idx=i) for _ in range(int(nbatch))]
            for i in range(data.nsystems)]


def pool_frames(*samples: StatSample) -> List[dict]:
    """Flatten one or several stat samples into a list of batches (the
    descriptor's ``compute_input_stats`` input)."""
    return [batch for sample in samples for batches in sample for batch in batches]


def energy_bias(sample: StatSample, ntypes: int, rcond: Optional[float] = None,
                atom_ener: Optional[Sequence[Optional[float]]] = None,
                key: str = "energy") -> np.ndarray:
    """Per-type energy bias by least squares, one row per system.

    For system ``s`` the row is its type counts ``c_s`` (``natoms_vec[2:]``)
    and the right-hand side its mean energy over the stat frames that carry
    an energy label; ``b = lstsq(C, e, rcond)`` (minimum norm when
    under-determined). Types with a value in ``atom_ener`` are pinned:
    their contribution is subtracted, their column dropped, and
    ``b[t] = atom_ener[t]``.

    Parameters
    ----------
    sample
        Stat sample of one energy head.
    ntypes
        Model type count.
    rcond
        Passed to ``numpy.linalg.lstsq`` (None: NumPy's default).
    atom_ener
        Per-type pinned energies (eV), None entries are free; may be shorter
        than ``ntypes``.

    Returns
    -------
    np.ndarray
        float64 ``[ntypes]``, eV per atom. Zeros (with a warning) when no
        system has energy labels.
    """
    counts, means = [], []
    for batches in sample:
        labelled = [b for b in batches if b.get("find_" + key, 0.0) > 0]
        if not labelled:
            continue
        energies = np.concatenate([np.reshape(b[key], -1) for b in labelled])
        counts.append(np.asarray(labelled[0]["natoms_vec"][2:2 + ntypes], dtype=np.float64))
        means.append(energies.mean())
    pinned = _pinned(atom_ener, ntypes)
    if not counts:
        log.warning("no energy labels in the stat sample: energy bias set to %s",
                    "the atom_ener values" if pinned else "zero")
        return np.array([v if v is not None else 0.0 for v in pinned or [None] * ntypes])
    matrix, rhs = np.array(counts), np.array(means)
    fixed = np.array([v is not None for v in pinned]) if pinned else np.zeros(ntypes, bool)
    values = np.array([v if v is not None else 0.0 for v in pinned]) if pinned else None
    if fixed.any():
        rhs = rhs - matrix[:, fixed] @ values[fixed]
        matrix = matrix.copy()
        matrix[:, fixed] = 0.0
    bias = np.linalg.lstsq(matrix, rhs, rcond=rcond)[0]
    if fixed.any():
        bias[fixed] = values[fixed]
    return bias


def _pinned(atom_ener, ntypes: int) -> Optional[List[Optional[float]]]:
    if not atom_ener:
        return None
    values = [None if v is None else float(v) for v in list(atom_ener)[:ntypes]]
    return values + [None] * (ntypes - len(values))


def polar_diag_shift(sample: StatSample, ntypes: int, sel_type: Sequence[int],
                     rcond: float = 1e-3, key: str = "polarizability") -> np.ndarray:
    """Diagonal shift ``c_t`` of a polarizability head, indexed by type id.

    Every frame of every stat batch adds equations: with atomic labels
    (``atomic_<key>``), one row per selected type ``t`` (``n_t`` in column
    ``t``, right-hand side the sum of that type's atomic tensors); otherwise,
    with a global label, one row of selected-type counts and the global
    tensor. ``lstsq`` gives a 3x3 tensor per selected type; ``c_t`` is the
    mean of its diagonal. Unlike DeePMD-kit 2.2.11 every frame is used
    (global-label batches may hold several frames) and the result is indexed
    by type id.

    Parameters
    ----------
    sample
        Stat sample of one polar head; atomic labels ``bs x nsel*9`` with the
        selected atoms sorted by type.
    ntypes
        Model type count.
    sel_type
        Selected types of the head.

    Returns
    -------
    np.ndarray
        float64 ``[ntypes]``; 0 for unselected types, and all zeros (with a
        warning) when the sample carries no label.
    """
    sel_type = sorted(int(t) for t in sel_type)
    rows, rhs = [], []
    for batches in sample:
        for batch in batches:
            counts = np.asarray(batch["natoms_vec"][2:2 + ntypes], dtype=np.float64)[sel_type]
            if batch.get("find_atomic_" + key, 0.0) > 0:
                _atomic_rows(batch["atomic_" + key], counts, rows, rhs)
            elif batch.get("find_" + key, 0.0) > 0:
                tensors = np.reshape(batch[key], (-1, 9))
                rows += [counts] * tensors.shape[0]
                rhs += list(tensors)
    shift = np.zeros(ntypes)
    if not rows:
        log.warning("no polarizability labels in the stat sample: diagonal shift set to zero")
        return shift
    solution = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=rcond)[0]
    for k, t in enumerate(sel_type):
        shift[t] = np.trace(solution[k].reshape(3, 3)) / 3.0
    return shift


def _atomic_rows(atomic: np.ndarray, counts: np.ndarray, rows: list, rhs: list) -> None:
    """One equation per selected type and frame from atomic tensors
    ``nf x nsel*9`` (selected atoms in type order)."""
    nsel_types = counts.size
    per_atom = np.reshape(atomic, (np.shape(atomic)[0], -1, 9))
    bounds = np.concatenate([[0], np.cumsum(counts)]).astype(int)
    for k in range(nsel_types):
        row = np.zeros(nsel_types)
        row[k] = counts[k]
        block = per_atom[:, bounds[k]:bounds[k + 1]].sum(axis=1)
        rows += [row] * block.shape[0]
        rhs += list(block)


def param_stats(sample: StatSample, key: str, ndof: int,
                protect: float = 1e-2) -> Tuple[np.ndarray, np.ndarray]:
    """Mean and population std of ``fparam`` (per frame) or ``aparam`` (per atom).

    Parameters
    ----------
    sample
        Stat sample of one head (all systems pooled).
    key
        ``"fparam"`` (``bs x ndof``) or ``"aparam"`` (``bs x natoms*ndof``).
    ndof
        ``numb_fparam`` / ``numb_aparam``.
    protect
        ``data_stat_protect``: floor of the std.

    Returns
    -------
    mean, std : np.ndarray
        float64 ``[ndof]`` each; ``std >= protect``.
    """
    values = [np.reshape(b[key], (-1, ndof)) for batches in sample for b in batches
              if b.get("find_" + key, 0.0) > 0]
    if not values:
        log.warning("no %s in the stat sample: mean 0 and std 1 are used", key)
        return np.zeros(ndof), np.ones(ndof)
    stacked = np.concatenate(values)
    mean = stacked.mean(axis=0)
    var = np.maximum((stacked ** 2).mean(axis=0) - mean ** 2, 0.0)
    return mean, np.maximum(np.sqrt(var), protect)
