"""Compare environment-matrix outputs with the oracle, tolerating index ties.

The op breaks float32 distance ties by its own extended-atom index, the
oracle by another one, so a centre flagged ``tied`` by the oracle may list
equally distant neighbours in another order (or, at the truncation edge, keep
another one of them).  For such centres the slots are matched against the
oracle's sorted candidates: slot ``k`` of type block ``t`` must hold one of
the type-``t`` candidates whose key equals the ``k``-th key.  The descriptor
arithmetic is then checked on the op's own slots with
:func:`reference.env_mat_np.rows_from_rij`, so nothing is left unchecked.
"""

from __future__ import annotations

from typing import Dict, Sequence

import numpy as np

from reference.env_mat_np import rows_from_rij


def _fail(label: str, f: int, i: int, slot: int, what: str):
    raise AssertionError(f"{label}: frame {f}, centre atom {i}, slot {slot}: {what}")


def _match_centre(label, f, i, nl_op, rij_op, cands, sel, key_rtol, rij_atol):
    """Check one centre's slots against its sorted candidates (tie-aware)."""
    offsets = np.concatenate([[0], np.cumsum(sel)]).astype(int)
    for t in range(len(sel)):
        of_t = cands["type"] == t
        local, key, rij = cands["local"][of_t], cands["key"][of_t], cands["rij"][of_t]
        nfill = min(len(local), sel[t])
        block = slice(offsets[t], offsets[t + 1])
        filled = int(np.sum(nl_op[block] >= 0))
        if filled != nfill or np.any(nl_op[offsets[t]:offsets[t] + nfill] < 0):
            _fail(label, f, i, offsets[t], f"type block {t} holds {filled} neighbours, oracle {nfill}")
        used = np.zeros(len(local), dtype=bool)
        for k in range(nfill):
            slot = offsets[t] + k
            tol = key_rtol * float(key[k])
            group = (np.abs(key.astype(np.float64) - key[k]) <= tol) & ~used
            hit = group & (local == nl_op[slot]) & np.all(np.abs(rij - rij_op[slot]) <= rij_atol, axis=1)
            if not np.any(hit):
                _fail(label, f, i, slot,
                      f"op neighbour {nl_op[slot]} rij {rij_op[slot]} is not an oracle candidate at "
                      f"rank {k} of type {t} (oracle: {local[k]} rij {rij[k]}, float32 r^2 {key[k]})")
            used[np.argmax(hit)] = True


def assert_neighbors_match(op: Dict[str, np.ndarray], ref: Dict[str, object], sel: Sequence[int],
                           nloc: int, *, rij_atol: float = 1e-10, key_rtol: float = 0.0,
                           label: str = "env_mat"):
    """Assert the op's ``nlist``/``rij`` (and ``max_nnei``) equal the oracle's.

    Centres without ties must match slot for slot; tied centres are matched
    against the candidates (see module docstring).  Returns the number of
    centres that needed the tie-aware path.
    """
    nf = op["nlist"].shape[0]
    nnei = int(sum(sel))
    nl_op = np.asarray(op["nlist"]).reshape(nf, nloc, nnei)
    nl_ref = np.asarray(ref["nlist"]).reshape(nf, nloc, nnei)
    rij_op = np.asarray(op["rij"], dtype=np.float64).reshape(nf, nloc, nnei, 3)
    rij_ref = np.asarray(ref["rij"]).reshape(nf, nloc, nnei, 3)
    if "max_nnei" in op:
        got, want = np.asarray(op["max_nnei"]), np.asarray(ref["max_nnei"])
        if not np.array_equal(got, want):
            raise AssertionError(f"{label}: max_nnei {got.tolist()} != oracle {want.tolist()}")
    bad = np.any(nl_op != nl_ref, axis=2) | np.any(np.abs(rij_op - rij_ref) > rij_atol, axis=(2, 3))
    for f, i in zip(*np.nonzero(bad)):
        if not ref["tied"][f, i]:
            slot = int(np.argmax((nl_op[f, i] != nl_ref[f, i])
                                 | np.any(np.abs(rij_op[f, i] - rij_ref[f, i]) > rij_atol, axis=1)))
            _fail(label, f, i, slot, f"op nlist {nl_op[f, i, slot]} rij {rij_op[f, i, slot]} != "
                  f"oracle {nl_ref[f, i, slot]} rij {rij_ref[f, i, slot]} (no float32 tie here)")
        _match_centre(label, f, i, nl_op[f, i], rij_op[f, i], ref["candidates"][f][i], sel,
                      key_rtol, rij_atol)
    return int(bad.sum())


def assert_rows_match(op: Dict[str, np.ndarray], atype_local: np.ndarray, davg, dstd, *,
                      rcut: float, rcut_smth: float, kind: str, rtol: float, atol: float,
                      label: str = "env_mat"):
    """Assert ``descrpt``/``descrpt_deriv`` equal the oracle rows of the op's own slots.

    ``atype_local`` is ``nf x nloc`` (or ``nloc``).
    """
    nf = op["nlist"].shape[0]
    nlist = np.asarray(op["nlist"]).reshape(nf, -1)
    rij = np.asarray(op["rij"], dtype=np.float64).reshape(nf, -1, 3)
    atype_local = np.broadcast_to(np.asarray(atype_local), (nf, np.shape(atype_local)[-1]))
    nloc = atype_local.shape[1]
    for f in range(nf):
        nl = nlist[f].reshape(nloc, -1)
        want, dwant = rows_from_rij(rij[f].reshape(nloc, -1, 3), nl, atype_local[f], davg, dstd,
                                    rcut=rcut, rcut_smth=rcut_smth, kind=kind)
        got = np.asarray(op["descrpt"][f], dtype=np.float64)
        dgot = np.asarray(op["descrpt_deriv"][f], dtype=np.float64)
        np.testing.assert_allclose(got, want.reshape(-1), rtol=rtol, atol=atol,
                                   err_msg=f"{label}: descrpt of frame {f} (flat (i, j, c))")
        np.testing.assert_allclose(dgot, dwant.reshape(-1), rtol=rtol, atol=atol,
                                   err_msg=f"{label}: descrpt_deriv of frame {f} (flat (i,j,c,d))")


def assert_env_equal(op, ref, *, sel, atype_local, davg, dstd, rcut, rcut_smth, kind,
                     rtol=1e-12, atol=1e-12, rij_atol=1e-10, key_rtol=0.0, label="env_mat"):
    """Full check: neighbours (tie-aware) then rows; returns the tied-centre count."""
    nloc = np.shape(atype_local)[-1]
    ntied = assert_neighbors_match(op, ref, sel, nloc, rij_atol=rij_atol, key_rtol=key_rtol,
                                   label=label)
    assert_rows_match(op, atype_local, davg, dstd, rcut=rcut, rcut_smth=rcut_smth, kind=kind,
                      rtol=rtol, atol=atol, label=label)
    if ntied == 0:
        np.testing.assert_allclose(np.asarray(op["descrpt"], dtype=np.float64), ref["descrpt"],
                                   rtol=rtol, atol=atol, err_msg=f"{label}: descrpt vs oracle")
    return ntied
