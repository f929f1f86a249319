"""The NumPy-level API of ``deepmt.op`` (own graph and session, cached).

It must give exactly what the graph wrappers give, apply the documented
defaults (davg 0, dstd 1, ``atype`` per frame or shared, ``box=None`` = no
PBC, dtype following ``coord``) and build the mesh encodings of the contract.
"""

import numpy as np
import pytest

import deepmt.op
from op_backends import pbc_mesh, serialize_nlist
from reference import env_mat_np
from reference.systems import random_stats, random_system, water_system

KEYS = ("descrpt", "descrpt_deriv", "rij", "nlist", "max_nnei")


@pytest.mark.parametrize("kind", ["a", "r"])
def test_same_as_graph_wrappers(ops, kind):
    system = water_system(2)
    sel = [20, 40]
    davg, dstd = random_stats(np.random.default_rng(0), 2, sum(sel), 4 if kind == "a" else 1)
    fn = deepmt.op.env_mat_a if kind == "a" else deepmt.op.env_mat_r
    got = fn(system.coord, system.atype, system.box, rcut=5.0, rcut_smth=0.5, sel=sel,
             davg=davg, dstd=dstd)
    want = ops.env_mat(system.coord, system.atype, system.box, rcut=5.0, rcut_smth=0.5, sel=sel,
                       davg=davg, dstd=dstd, kind=kind)
    assert set(KEYS) <= set(got)
    for key in KEYS:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)

    fv = (deepmt.op.force_virial_a if kind == "a" else deepmt.op.force_virial_r)
    g = np.random.default_rng(1).normal(size=got["descrpt"].shape)
    out = fv(g, got["descrpt_deriv"], got["rij"], got["nlist"], system.natoms)
    np.testing.assert_array_equal(out["force"], ops.prod_force(g, got["descrpt_deriv"], got["nlist"],
                                                               system.natoms))
    virial, atom_virial = ops.prod_virial(g, got["descrpt_deriv"], got["rij"], got["nlist"], system.natoms)
    np.testing.assert_array_equal(out["virial"], virial)
    np.testing.assert_array_equal(out["atom_virial"], atom_virial)


def test_defaults_and_shared_types():
    rng = np.random.default_rng(2)
    system = random_system(rng, 8, 2, nframes=2, extent=4.0)
    kw = dict(rcut=3.5, rcut_smth=1.0, sel=[8, 8])
    got = deepmt.op.env_mat_a(system.coord, system.atype, None, **kw)
    per_frame = deepmt.op.env_mat_a(system.coord, np.tile(system.atype, (2, 1)), None, **kw)
    ref = env_mat_np.env_mat_a(system.coord, system.atype, None, **kw)
    for key in KEYS:
        np.testing.assert_array_equal(got[key], per_frame[key], err_msg=key)
        np.testing.assert_allclose(got[key], ref[key], rtol=1e-12, atol=1e-12, err_msg=key)
    assert got["descrpt"].shape[0] == 2 and got["nlist"].dtype == np.int32


def test_float32_follows_coord(water_frame):
    coord, box, atype = water_frame
    assert coord.shape == (1, 576) and box.shape == (1, 9) and atype.shape == (192,)
    got = deepmt.op.env_mat_a(coord.astype(np.float32), atype, box.astype(np.float32),
                              rcut=4.0, rcut_smth=1.0, sel=[20, 40])
    assert got["descrpt"].dtype == np.float32 and got["descrpt_deriv"].dtype == np.float32
    ref = deepmt.op.env_mat_a(coord.astype(np.float32).astype(np.float64), atype,
                              box.astype(np.float32).astype(np.float64),
                              rcut=4.0, rcut_smth=1.0, sel=[20, 40])
    assert ref["descrpt"].dtype == np.float64
    np.testing.assert_allclose(got["descrpt"], ref["descrpt"], rtol=2e-5, atol=2e-5)


def test_neighbor_list_mode():
    coord = np.array([[0.0, 0.0, 0.0], [1.1, 0.0, 0.0], [0.0, 1.3, 0.2], [-1.2, 0.1, 0.3]])
    atype = np.array([0, 1, 1, 0])
    # atoms 2 and 3 are ghosts; atom 3 is listed by atom 1 but lies beyond rcut
    neighbors = [np.array([2, 1, 3]), np.array([3, 0, 2])]
    kw = dict(rcut=2.2, rcut_smth=0.5, sel=[2, 2])
    got = deepmt.op.env_mat_a(coord.reshape(1, -1), atype, None, nloc=2, neighbor_list=neighbors, **kw)
    np.testing.assert_array_equal(got["nlist"].reshape(2, 4), [[3, -1, 1, 2], [0, -1, 2, -1]])
    ref = env_mat_np.env_mat_a(coord.reshape(1, -1), atype, None, nloc=2, neighbor_list=neighbors, **kw)
    np.testing.assert_allclose(got["descrpt"], ref["descrpt"], rtol=1e-12, atol=1e-12)
    out = deepmt.op.force_virial_a(np.ones_like(got["descrpt"]), got["descrpt_deriv"], got["rij"],
                                   got["nlist"], 2, nall=4)
    assert out["force"].shape == (1, 12) and out["atom_virial"].shape == (1, 36)
    assert np.any(out["force"].reshape(4, 3)[2])


def test_mesh_helpers():
    assert deepmt.op.make_mesh(True).dtype == np.int32
    np.testing.assert_array_equal(deepmt.op.make_mesh(True), pbc_mesh(True))
    assert deepmt.op.make_mesh(False).shape == (0,)
    neighbors = [np.array([3, 1]), np.array([], dtype=int), np.array([0, 4, 2])]
    mesh = deepmt.op.serialize_nlist(3, neighbors)
    assert mesh.dtype == np.int32 and len(mesh) > 16
    np.testing.assert_array_equal(mesh, serialize_nlist(3, neighbors))
    np.testing.assert_array_equal(mesh[:16], [3] + [0] * 15)
    np.testing.assert_array_equal(mesh[16:], [0, 1, 2, 2, 0, 3, 3, 1, 0, 4, 2])
