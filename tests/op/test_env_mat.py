"""DmtEnvMatA / DmtEnvMatR against the brute-force oracle.

float64 must agree to 1e-12 (neighbour slots exactly, up to the order of
float32-tied candidates, see :mod:`reference.compare`); float32 kernels to a
float32 tolerance on coordinates rounded to float32.
"""

import numpy as np
import pytest

from reference import env_mat_np
from reference.compare import assert_env_equal
from reference.systems import System, random_stats, random_system, water_system

F64 = dict(rtol=1e-12, atol=1e-12, rij_atol=1e-10, key_rtol=0.0)
F32 = dict(rtol=2e-5, atol=2e-5, rij_atol=2e-5, key_rtol=2e-6)


def _case(name):
    """(system, rcut, rcut_smth, sel) of a named geometry."""
    rng = np.random.default_rng(sum(map(ord, name)))
    if name == "water":
        return water_system(2), 6.0, 0.5, [46, 92]
    if name == "water_truncated":
        return water_system(1), 6.0, 0.5, [18, 30]
    if name == "triclinic_2types":
        return random_system(rng, 14, 2, lengths=[7.0, 7.5, 8.0], nframes=3), 4.0, 1.0, [30, 30]
    if name == "triclinic_3types":
        return random_system(rng, 15, 3, lengths=[6.5, 7.0, 8.0], nframes=2), 4.0, 2.5, [20, 20, 20]
    if name == "short_cell":
        return random_system(rng, 5, 2, lengths=[2.55, 3.05, 3.45], nframes=2, tilt=0.4), 5.0, 1.0, [80, 80]
    if name == "short_cell_truncated":
        return random_system(rng, 5, 2, lengths=[2.55, 3.05, 3.45], nframes=2, tilt=0.4), 5.0, 1.0, [20, 25]
    if name == "cluster":
        return random_system(rng, 12, 2, nframes=2, extent=5.0), 4.0, 0.5, [12, 12]
    if name == "cluster_truncated_3types":
        return random_system(rng, 14, 3, nframes=2, extent=5.0), 4.0, 0.5, [3, 4, 2]
    if name == "virtual_atoms":
        system = random_system(rng, 12, 2, lengths=[6.0, 6.5, 7.0], nframes=2)
        system.atype[[1, 6, 7]] = -1
        return system, 4.0, 1.0, [15, 15]
    if name == "absent_type":
        return random_system(rng, 10, 3, lengths=[6.0, 6.5, 7.0], absent=(1,)), 4.0, 1.0, [15, 6, 15]
    raise KeyError(name)


CASES = ["water", "water_truncated", "triclinic_2types", "triclinic_3types", "short_cell",
         "short_cell_truncated", "cluster", "cluster_truncated_3types", "absent_type", "virtual_atoms"]


def _compare(ops, system: System, rcut, rcut_smth, sel, kind, dtype, rng, label):
    ncomp = 4 if kind == "a" else 1
    davg, dstd = random_stats(rng, len(sel), int(sum(sel)), ncomp)
    coord, box = system.coord, system.box
    if dtype == np.float32:
        coord = coord.astype(np.float32).astype(np.float64)
        box = None if box is None else box.astype(np.float32).astype(np.float64)
        davg = davg.astype(np.float32).astype(np.float64)
        dstd = dstd.astype(np.float32).astype(np.float64)
    tol = F64 if dtype == np.float64 else F32
    got = ops.env_mat(coord, system.atype, box, rcut=rcut, rcut_smth=rcut_smth, sel=sel,
                      davg=davg, dstd=dstd, kind=kind, dtype=dtype)
    ref = env_mat_np.env_mat(coord, system.atype, box, rcut=rcut, rcut_smth=rcut_smth, sel=sel,
                             davg=davg, dstd=dstd, kind=kind, tie_rtol=tol["key_rtol"])
    nf, nloc, nnei = coord.shape[0], system.natoms, int(sum(sel))
    shapes = {"descrpt": (nf, nloc * nnei * ncomp), "descrpt_deriv": (nf, nloc * nnei * ncomp * 3),
              "rij": (nf, nloc * nnei * 3), "nlist": (nf, nloc * nnei), "max_nnei": (nf, len(sel))}
    for key, shape in shapes.items():
        assert got[key].shape == shape, f"{label}: {key} shape {got[key].shape}, want {shape}"
        assert got[key].dtype == (np.int32 if key in ("nlist", "max_nnei") else dtype), key
    return assert_env_equal(got, ref, sel=sel, atype_local=system.atype, davg=davg, dstd=dstd,
                            rcut=rcut, rcut_smth=rcut_smth, kind=kind, label=label, **tol), ref


@pytest.mark.parametrize("kind", ["a", "r"])
@pytest.mark.parametrize("name", CASES)
def test_float64_matches_oracle(ops, rng, name, kind):
    system, rcut, rcut_smth, sel = _case(name)
    _compare(ops, system, rcut, rcut_smth, sel, kind, np.float64, rng, f"{name}/{kind}/float64")


@pytest.mark.parametrize("kind", ["a", "r"])
@pytest.mark.parametrize("name", ["water", "triclinic_3types", "short_cell", "cluster"])
def test_float32_matches_oracle(ops, rng, name, kind):
    system, rcut, rcut_smth, sel = _case(name)
    _compare(ops, system, rcut, rcut_smth, sel, kind, np.float32, rng, f"{name}/{kind}/float32")


def test_cases_exercise_what_they_claim(oracle):
    """Guard the geometry table: truncation, images, absent types really happen."""
    def ref(name):
        system, rcut, rcut_smth, sel = _case(name)
        return env_mat_np.env_mat_a(system.coord, system.atype, system.box, rcut=rcut,
                                    rcut_smth=rcut_smth, sel=sel), sel, system
    for name in ("water_truncated", "short_cell_truncated", "cluster_truncated_3types"):
        out, sel, _ = ref(name)
        assert np.any(out["max_nnei"] > np.array(sel)), name
    for name in ("water", "short_cell", "triclinic_2types", "cluster", "absent_type"):
        out, sel, _ = ref(name)
        assert np.all(out["max_nnei"] <= np.array(sel)), name
    out, sel, system = ref("short_cell")
    nlist = out["nlist"].reshape(2, system.natoms, -1)
    # a short cell: every atom sees several images of itself
    assert all(np.sum(nlist[0, i] == i) >= 2 for i in range(system.natoms))
    out, sel, system = ref("virtual_atoms")
    virtual = np.nonzero(system.atype < 0)[0]
    nlist = out["nlist"].reshape(2, system.natoms, -1)
    assert not np.any(np.isin(nlist, virtual)) and np.all(nlist[:, virtual, 0] >= 0)
    assert not np.any(out["descrpt"].reshape(2, system.natoms, -1)[:, virtual])
    out, sel, system = ref("absent_type")
    assert not np.any(system.atype == 1) and out["max_nnei"][0, 1] == 0
    assert len(set(system.atype[:6].tolist())) > 1 and np.any(np.diff(system.atype) < 0)


def test_truncation_keeps_the_nearest(ops):
    system, rcut, rcut_smth, sel = _case("water_truncated")
    got = ops.env_mat(system.coord, system.atype, system.box, rcut=rcut, rcut_smth=rcut_smth,
                      sel=sel)
    full = ops.env_mat(system.coord, system.atype, system.box, rcut=rcut, rcut_smth=rcut_smth,
                       sel=[60, 120])
    offsets = np.cumsum([0] + sel)
    foff = np.cumsum([0, 60, 120])
    rij = got["rij"].reshape(system.natoms, -1, 3)
    frij = full["rij"].reshape(system.natoms, -1, 3)
    for t in range(2):
        kept = np.linalg.norm(rij[:, offsets[t]:offsets[t + 1]], axis=-1)
        all_t = np.linalg.norm(frij[:, foff[t]:foff[t + 1]], axis=-1)
        # the truncated block is exactly the first sel[t] slots of the full block
        np.testing.assert_allclose(kept, all_t[:, :sel[t]], atol=1e-12)
        np.testing.assert_array_equal(got["nlist"].reshape(system.natoms, -1)[:, offsets[t]:offsets[t + 1]],
                                      full["nlist"].reshape(system.natoms, -1)[:, foff[t]:foff[t] + sel[t]])
        counts = np.sum(full["nlist"].reshape(system.natoms, -1)[:, foff[t]:foff[t + 1]] >= 0, axis=1)
        assert got["max_nnei"][0, t] == counts.max() > sel[t]


def test_type_order_does_not_matter(ops, rng):
    system, rcut, rcut_smth, sel = _case("triclinic_3types")
    davg, dstd = random_stats(rng, 3, sum(sel), 4)
    perm = rng.permutation(system.natoms)
    coord = system.coord.reshape(2, -1, 3)[:, perm].reshape(2, -1)
    base = ops.env_mat(system.coord, system.atype, system.box, rcut=rcut, rcut_smth=rcut_smth,
                       sel=sel, davg=davg, dstd=dstd)
    moved = ops.env_mat(coord, system.atype[perm], system.box, rcut=rcut, rcut_smth=rcut_smth,
                        sel=sel, davg=davg, dstd=dstd)
    inv = np.argsort(perm)
    nlist = base["nlist"].reshape(2, system.natoms, -1)[:, perm]
    np.testing.assert_array_equal(moved["nlist"].reshape(nlist.shape), np.where(nlist >= 0, inv[nlist], -1))
    for key, width in (("descrpt", sum(sel) * 4), ("descrpt_deriv", sum(sel) * 12), ("rij", sum(sel) * 3)):
        want = base[key].reshape(2, system.natoms, width)[:, perm]
        np.testing.assert_allclose(moved[key].reshape(want.shape), want, rtol=1e-12, atol=1e-12)
