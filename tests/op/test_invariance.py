"""Invariances and smoothness of the environment matrix, on both backends.

Translation, rotation (coordinates and cell together), permutation of atoms
of one type, lattice-vector shifts of single atoms, a periodic supercell of a
cell shorter than rcut, and continuity when a neighbour crosses rcut.
"""

import numpy as np
import pytest

from reference.systems import random_rotation, random_system

RCUT, RCUT_SMTH = 4.0, 1.0


def _system(name):
    rng = np.random.default_rng(sum(map(ord, name)) + 11)
    if name == "pbc":
        return random_system(rng, 12, 2, lengths=[6.0, 6.5, 7.0], min_dist=1.0), [30, 30]
    if name == "nopbc":
        return random_system(rng, 10, 3, extent=4.5, min_dist=1.0), [10, 10, 10]
    if name == "short_cell":
        return random_system(rng, 4, 2, lengths=[2.6, 3.0, 3.4], tilt=0.4, min_dist=1.0), [80, 80]
    raise KeyError(name)


def _stats(ntypes, nnei, kind, rng):
    """Statistics shaped like real ones: angular mean 0, one angular std, tiled over slots."""
    if kind == "r":
        return (np.tile(rng.normal(size=(ntypes, 1)), (1, nnei)),
                np.tile(rng.uniform(0.3, 1.2, size=(ntypes, 1)), (1, nnei)))
    avg = np.zeros((ntypes, 4))
    avg[:, 0] = rng.normal(size=ntypes)
    std = np.repeat(rng.uniform(0.3, 1.2, size=(ntypes, 2)), [1, 3], axis=1)
    return np.tile(avg, (1, nnei)), np.tile(std, (1, nnei))


def _env(backend, system, coord, box, sel, kind, stats):
    return backend.env_mat(coord, system.atype, box, rcut=RCUT, rcut_smth=RCUT_SMTH, sel=sel,
                           davg=stats[0], dstd=stats[1], kind=kind)


def _assert_same(got, want, label, atol=1e-10):
    np.testing.assert_array_equal(got["nlist"], want["nlist"], err_msg=f"{label}: nlist")
    for key in ("descrpt", "descrpt_deriv", "rij"):
        np.testing.assert_allclose(got[key], want[key], rtol=0, atol=atol, err_msg=f"{label}: {key}")


@pytest.mark.parametrize("kind", ["a", "r"])
@pytest.mark.parametrize("name", ["pbc", "nopbc"])
def test_translation(backend, name, kind):
    system, sel = _system(name)
    stats = _stats(len(sel), sum(sel), kind, np.random.default_rng(1))
    shift = np.tile([3.7, -11.2, 0.45], system.natoms)
    base = _env(backend, system, system.coord, system.box, sel, kind, stats)
    moved = _env(backend, system, system.coord + shift, system.box, sel, kind, stats)
    _assert_same(moved, base, f"{backend.name} {name}/{kind} translated")


@pytest.mark.parametrize("name", ["pbc", "nopbc"])
def test_rotation(backend, name):
    system, sel = _system(name)
    stats = _stats(len(sel), sum(sel), "a", np.random.default_rng(2))
    rot = random_rotation(np.random.default_rng(5))
    nat, nnei = system.natoms, sum(sel)
    coord = (system.coord.reshape(nat, 3) @ rot.T).reshape(1, -1)
    box = None if system.box is None else (system.box.reshape(3, 3) @ rot.T).reshape(1, 9)
    base = _env(backend, system, system.coord, system.box, sel, "a", stats)
    turned = _env(backend, system, coord, box, sel, "a", stats)
    np.testing.assert_array_equal(turned["nlist"], base["nlist"])
    rows, rows0 = turned["descrpt"].reshape(nat, nnei, 4), base["descrpt"].reshape(nat, nnei, 4)
    np.testing.assert_allclose(rows[..., 0], rows0[..., 0], atol=1e-10)
    np.testing.assert_allclose(rows[..., 1:], rows0[..., 1:] @ rot.T, atol=1e-10)
    der, der0 = (o["descrpt_deriv"].reshape(nat, nnei, 4, 3) for o in (turned, base))
    np.testing.assert_allclose(der[..., 0, :], der0[..., 0, :] @ rot.T, atol=1e-10)
    # the angular block is a 3 x 3 tensor: R T R^T
    np.testing.assert_allclose(der[..., 1:, :], rot @ der0[..., 1:, :] @ rot.T, atol=1e-10)
    np.testing.assert_allclose(turned["rij"].reshape(nat, nnei, 3),
                               base["rij"].reshape(nat, nnei, 3) @ rot.T, atol=1e-10)


@pytest.mark.parametrize("name", ["pbc", "nopbc"])
def test_permutation_of_same_type_atoms(backend, name):
    system, sel = _system(name)
    stats = _stats(len(sel), sum(sel), "a", np.random.default_rng(3))
    rng = np.random.default_rng(4)
    perm = np.arange(system.natoms)
    for t in np.unique(system.atype):
        idx = np.nonzero(system.atype == t)[0]
        perm[idx] = rng.permutation(idx)
    assert np.array_equal(system.atype[perm], system.atype) and np.any(perm != np.arange(len(perm)))
    nat, nnei = system.natoms, sum(sel)
    coord = system.coord.reshape(nat, 3)[perm].reshape(1, -1)
    base = _env(backend, system, system.coord, system.box, sel, "a", stats)
    moved = _env(backend, system, coord, system.box, sel, "a", stats)
    inv = np.argsort(perm)
    nlist = base["nlist"].reshape(nat, nnei)[perm]
    np.testing.assert_array_equal(moved["nlist"].reshape(nat, nnei), np.where(nlist >= 0, inv[nlist], -1))
    for key, width in (("descrpt", 4), ("descrpt_deriv", 12), ("rij", 3)):
        want = base[key].reshape(nat, -1)[perm]
        np.testing.assert_allclose(moved[key].reshape(nat, -1), want, rtol=0, atol=1e-12,
                                   err_msg=f"{backend.name}: {key} after permutation")


def test_lattice_shift_of_single_atoms(backend):
    system, sel = _system("pbc")
    stats = _stats(2, sum(sel), "a", np.random.default_rng(6))
    nat = system.natoms
    jumps = np.zeros((nat, 3))
    jumps[[0, 3, 7]] = [[1, 0, -2], [0, 3, 1], [-1, -1, -1]]
    coord = system.coord + (jumps @ system.box.reshape(3, 3)).reshape(1, -1)
    base = _env(backend, system, system.coord, system.box, sel, "a", stats)
    moved = _env(backend, system, coord, system.box, sel, "a", stats)
    _assert_same(moved, base, f"{backend.name}: atoms shifted by lattice vectors", atol=1e-9)


def _canonical(out, nat, sel, ncomp):
    """Per centre and type block: slots sorted by (r^2, x, y, z), empties last."""
    nnei = sum(sel)
    rij = out["rij"].reshape(nat, nnei, 3)
    rows = np.concatenate([rij, out["descrpt"].reshape(nat, nnei, ncomp),
                           out["descrpt_deriv"].reshape(nat, nnei, ncomp * 3)], axis=-1)
    filled = out["nlist"].reshape(nat, nnei) >= 0
    offsets = np.cumsum([0] + list(sel))
    result = np.empty_like(rows)
    for i in range(nat):
        for t in range(len(sel)):
            block = slice(offsets[t], offsets[t + 1])
            r, f = rows[i, block], filled[i, block]
            key = np.round(np.concatenate([np.sum(r[:, :3] ** 2, 1, keepdims=True), r[:, :3]], 1), 8)
            order = np.lexsort(tuple(key.T[::-1]) + (~f,))
            result[i, block] = r[order]
    return result


def test_supercell_of_a_short_cell(backend):
    system, sel = _system("short_cell")
    stats = _stats(2, sum(sel), "a", np.random.default_rng(7))
    nat = system.natoms
    box = system.box.reshape(3, 3)
    big_box = box * np.array([[2.0], [1.0], [1.0]])
    pos = system.coord.reshape(nat, 3)
    big_coord = np.concatenate([pos, pos + box[0]]).reshape(1, -1)
    atype = np.concatenate([system.atype, system.atype])
    base = _env(backend, system, system.coord, system.box, sel, "a", stats)
    big = backend.env_mat(big_coord, atype, big_box.reshape(1, 9), rcut=RCUT, rcut_smth=RCUT_SMTH,
                          sel=sel, davg=stats[0], dstd=stats[1])
    assert np.all(big["max_nnei"] == base["max_nnei"]) and np.all(base["max_nnei"] <= np.array(sel))
    want = _canonical(base, nat, sel, 4)
    got = _canonical(big, 2 * nat, sel, 4)
    for copy in range(2):
        np.testing.assert_allclose(got[copy * nat:(copy + 1) * nat], want, rtol=0, atol=1e-9,
                                   err_msg=f"{backend.name}: supercell copy {copy}")
    big_nl = big["nlist"].reshape(2 * nat, -1)
    np.testing.assert_array_equal(np.sort(np.where(big_nl >= 0, big_nl % nat, -1)[:nat], axis=1),
                                  np.sort(base["nlist"].reshape(nat, -1), axis=1))


def _pair_geometry(distance):
    """Centre at (1,1,1), one neighbour ``distance`` along x, two fixed others."""
    coord = np.array([[1.0, 1.0, 1.0], [1.0 + distance, 1.0, 1.0],
                      [1.5, 2.2, 0.7], [0.2, 0.4, 2.1]])
    return coord.reshape(1, -1)


@pytest.mark.parametrize("kind", ["a", "r"])
def test_smooth_at_rcut(backend, kind):
    atype = np.array([0, 1, 1, 0])
    sel = [3, 3]
    stats = _stats(2, 6, kind, np.random.default_rng(8))

    def env(distance):
        return backend.env_mat(_pair_geometry(distance), atype, None, rcut=RCUT,
                               rcut_smth=RCUT_SMTH, sel=sel, davg=stats[0], dstd=stats[1], kind=kind)

    def centre(out, key):
        # only the centre's rows: the far atoms' own environments change as well
        return out[key].reshape(4, -1)[0]

    absent = env(RCUT + 1.0)
    at_rcut = env(RCUT)
    assert 1 not in at_rcut["nlist"].reshape(4, 6)[0].tolist(), "a neighbour at exactly rcut is no neighbour"
    for key in ("descrpt", "descrpt_deriv"):
        np.testing.assert_array_equal(centre(at_rcut, key), centre(absent, key),
                                      err_msg=f"{key} at exactly rcut")
    jumps = []
    for delta in (1e-2, 1e-3):
        inside = env(RCUT - delta)
        assert 1 in inside["nlist"].reshape(4, 6)[0].tolist()
        jumps.append([np.abs(centre(inside, k) - centre(absent, k)).max()
                      for k in ("descrpt", "descrpt_deriv")])
    jumps = np.array(jumps)
    # value ~ delta^3 and derivative ~ delta^2 as the neighbour reaches rcut
    assert jumps[1, 0] < 2e-3 * jumps[0, 0] and jumps[1, 0] < 1e-8
    assert jumps[1, 1] < 2e-2 * jumps[0, 1] and jumps[1, 1] < 1e-5
    # and smooth through rcut_smth too
    lo, hi = env(RCUT_SMTH - 1e-7), env(RCUT_SMTH + 1e-7)
    np.testing.assert_allclose(lo["descrpt"], hi["descrpt"], atol=1e-6)
    np.testing.assert_allclose(lo["descrpt_deriv"], hi["descrpt_deriv"], atol=1e-6)
