"""External neighbour list (mesh > 16, ghosts after the local atoms).

The test builds the ghost atoms and the neighbour lists itself (images of
the wrapped cell within rcut + 0.5 of a local atom, neighbours listed in a
random order, some beyond rcut so the op must filter and sort); the result
must equal the op's own periodic search once ghost indices are mapped back
to their local atoms, and forces folded onto the local atoms must agree.
"""

import numpy as np
import pytest

from reference import env_mat_np, prod_np
from reference.compare import assert_env_equal
from reference.systems import random_stats, random_system

RCUT, RCUT_SMTH, SEL = 4.0, 1.0, [30, 30]
MARGIN = 0.5


def _ghost_setup(seed=5):
    rng = np.random.default_rng(seed)
    system = random_system(rng, 10, 2, lengths=[7.0, 7.5, 8.0], min_dist=1.0)
    nloc = system.natoms
    ext, ext_type, mapping = env_mat_np.replicate(system.coord.reshape(nloc, 3), system.atype,
                                                  system.box.reshape(3, 3), RCUT)
    dist = np.linalg.norm(ext[:, None, :] - ext[None, :nloc, :], axis=-1)
    keep = np.arange(len(ext)) < nloc
    keep |= np.min(dist, axis=1) < RCUT + MARGIN
    ext, ext_type, mapping, dist = ext[keep], ext_type[keep], mapping[keep], dist[keep]
    neighbors = []
    for i in range(nloc):
        near = np.nonzero((dist[:, i] < RCUT + MARGIN) & (np.arange(len(ext)) != i))[0]
        neighbors.append(rng.permutation(near))
    stats = random_stats(rng, 2, sum(SEL), 4)
    return system, ext, ext_type, mapping, neighbors, stats


def test_setup_has_ghosts_and_far_candidates():
    system, ext, _, mapping, neighbors, _ = _ghost_setup()
    assert len(ext) > 3 * system.natoms
    far = [np.linalg.norm(ext[n] - ext[i], axis=1) > RCUT for i, n in enumerate(neighbors)]
    assert sum(int(f.sum()) for f in far) > 10


def test_external_list_equals_internal_search(ops):
    system, ext, ext_type, mapping, neighbors, (davg, dstd) = _ghost_setup()
    nloc, nall = system.natoms, len(ext)
    kw = dict(rcut=RCUT, rcut_smth=RCUT_SMTH, sel=SEL, davg=davg, dstd=dstd)
    got = ops.env_mat(ext.reshape(1, -1), ext_type, None, nloc=nloc, neighbor_list=neighbors, **kw)
    internal = ops.env_mat(system.coord, system.atype, system.box, **kw)
    nlist = got["nlist"]
    np.testing.assert_array_equal(np.where(nlist >= 0, mapping[nlist], -1), internal["nlist"])
    assert np.any(nlist >= nloc), "ghost indices must stay extended indices"
    for key in ("descrpt", "descrpt_deriv", "rij"):
        np.testing.assert_allclose(got[key], internal[key], rtol=1e-12, atol=1e-12, err_msg=key)
    np.testing.assert_array_equal(got["max_nnei"], internal["max_nnei"])
    ref = env_mat_np.env_mat_a(ext.reshape(1, -1), ext_type, None, nloc=nloc, neighbor_list=neighbors, **kw)
    assert_env_equal(got, ref, sel=SEL, atype_local=ext_type[:nloc], davg=davg, dstd=dstd,
                     rcut=RCUT, rcut_smth=RCUT_SMTH, kind="a", label="external nlist")

    # forces on ghosts folded onto their owners equal the periodic forces
    w = np.random.default_rng(6).normal(size=got["descrpt"].shape)
    f_ext = ops.prod_force(w, got["descrpt_deriv"], nlist, nloc, nall).reshape(nall, 3)
    f_int = ops.prod_force(w, internal["descrpt_deriv"], internal["nlist"], nloc).reshape(nloc, 3)
    folded = np.zeros((nloc, 3))
    np.add.at(folded, mapping, f_ext)
    np.testing.assert_allclose(folded, f_int, rtol=1e-12, atol=1e-11)
    assert np.abs(f_ext[nloc:]).max() > 0
    want = prod_np.prod_force(w, got["descrpt_deriv"], nlist, nloc, nall)
    np.testing.assert_allclose(f_ext.reshape(1, -1), want, rtol=1e-12, atol=1e-11)
    v_ext, av_ext = ops.prod_virial(w, got["descrpt_deriv"], got["rij"], nlist, nloc, nall)
    v_int, av_int = ops.prod_virial(w, internal["descrpt_deriv"], internal["rij"], internal["nlist"], nloc)
    np.testing.assert_allclose(v_ext, v_int, rtol=1e-12, atol=1e-11)
    assert av_ext.shape == (1, nall * 9)
    folded = np.zeros((nloc, 9))
    np.add.at(folded, mapping, av_ext.reshape(nall, 9))
    np.testing.assert_allclose(folded.reshape(1, -1), av_int, rtol=1e-12, atol=1e-11)


@pytest.mark.parametrize("kind", ["a", "r"])
def test_external_list_matches_oracle_float32(ops, kind):
    system, ext, ext_type, _, neighbors, _ = _ghost_setup(seed=8)
    nloc = system.natoms
    ncomp = 4 if kind == "a" else 1
    davg, dstd = random_stats(np.random.default_rng(1), 2, sum(SEL), ncomp)
    coord = ext.reshape(1, -1).astype(np.float32).astype(np.float64)
    kw = dict(rcut=RCUT, rcut_smth=RCUT_SMTH, sel=SEL, davg=davg, dstd=dstd, kind=kind,
              nloc=nloc, neighbor_list=neighbors)
    got = ops.env_mat(coord, ext_type, None, dtype=np.float32, **kw)
    ref = env_mat_np.env_mat(coord, ext_type, None, tie_rtol=2e-6, **kw)
    assert_env_equal(got, ref, sel=SEL, atype_local=ext_type[:nloc], davg=davg, dstd=dstd,
                     rcut=RCUT, rcut_smth=RCUT_SMTH, kind=kind, rtol=2e-5, atol=2e-5,
                     rij_atol=2e-5, key_rtol=2e-6, label=f"external nlist float32 {kind}")


def test_oracle_external_equals_internal():
    system, ext, ext_type, mapping, neighbors, (davg, dstd) = _ghost_setup()
    nloc = system.natoms
    kw = dict(rcut=RCUT, rcut_smth=RCUT_SMTH, sel=SEL, davg=davg, dstd=dstd)
    got = env_mat_np.env_mat_a(ext.reshape(1, -1), ext_type, None, nloc=nloc, neighbor_list=neighbors, **kw)
    want = env_mat_np.env_mat_a(system.coord, system.atype, system.box, **kw)
    np.testing.assert_array_equal(np.where(got["nlist"] >= 0, mapping[got["nlist"]], -1), want["nlist"])
    for key in ("descrpt", "descrpt_deriv", "rij", "max_nnei"):
        np.testing.assert_allclose(got[key], want[key], rtol=1e-12, atol=1e-12, err_msg=key)
