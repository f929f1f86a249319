"""The TF-free kernel library alone, through the pybind11 module ``deepmt.lib._kernels``.

No TensorFlow here: switching function, periodic images, cell-list search
against brute force, environment-matrix derivatives by finite differences,
force/virial assembly against a finite-difference energy, adjoint identities,
thread-count independence and the input errors of the library.
Lengths in Å; arrays per frame (``nat x 3`` coordinates, ``9`` cell).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from deepmt.lib import _kernels as K

RCUT, RCUT_SMTH = 3.0, 1.0


def _cluster(rng, nat=12, ntypes=2, extent=4.0):
    coord = rng.uniform(0.0, extent, size=(nat, 3))
    atype = rng.integers(0, ntypes, size=nat).astype(np.int32)
    return coord, atype


def _triclinic_box(lengths=(4.0, 4.5, 5.0), tilt=0.3, rng=None):
    box = np.diag(lengths).astype(float)
    box[1, 0] = tilt * lengths[1]
    box[2, 0], box[2, 1] = -tilt * lengths[2], 0.5 * tilt * lengths[2]
    if rng is not None:  # a random rotation makes the cell fully general
        q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
        box = box @ q
    return box.reshape(9)


def _lattice_neighbours(wrapped, box, i, rcut, reach=4):
    """Multiset of (j, lattice shift) within rcut of local atom i, by enumeration."""
    h = box.reshape(3, 3)
    out = []
    for j in range(len(wrapped)):
        for shift in itertools.product(range(-reach, reach + 1), repeat=3):
            if j == i and shift == (0, 0, 0):
                continue
            d = wrapped[j] + np.array(shift) @ h - wrapped[i]
            if d @ d < rcut * rcut:
                out.append(j)
    return sorted(out)


# --- switching function ------------------------------------------------------

def test_switch_values_and_derivative():
    r = np.linspace(0.2, 3.5, 3301)
    w, dw = K.smooth_switch(r, RCUT_SMTH, RCUT)
    assert np.all(w[r < RCUT_SMTH] == 1.0) and np.all(dw[r < RCUT_SMTH] == 0.0)
    assert np.all(w[r >= RCUT] == 0.0) and np.all(dw[r >= RCUT] == 0.0)
    u = (r - RCUT_SMTH) / (RCUT - RCUT_SMTH)
    mid = (r >= RCUT_SMTH) & (r < RCUT)
    np.testing.assert_allclose(w[mid], u[mid] ** 3 * (-6 * u[mid] ** 2 + 15 * u[mid] - 10) + 1, atol=1e-14)
    h = 1e-6
    wp, _ = K.smooth_switch(r + h, RCUT_SMTH, RCUT)
    wm, _ = K.smooth_switch(r - h, RCUT_SMTH, RCUT)
    np.testing.assert_allclose(dw, (wp - wm) / (2 * h), atol=1e-7)


@pytest.mark.parametrize("edge", [RCUT_SMTH, RCUT])
def test_switch_is_c2_at_both_ends(edge):
    h = 1e-4
    r = np.array([edge - 2 * h, edge - h, edge, edge + h, edge + 2 * h])
    w, dw = K.smooth_switch(r, RCUT_SMTH, RCUT)
    assert abs(w[1] - w[3]) < 1e-10 and abs(dw[1] - dw[3]) < 1e-6
    second_left = (dw[1] - dw[0]) / h
    second_right = (dw[4] - dw[3]) / h
    assert abs(second_left - second_right) < 1e-2
    assert K.smooth_switch(np.array([RCUT]), RCUT_SMTH, RCUT)[0][0] == 0.0


def test_switch_with_equal_radii_is_a_step():
    w, dw = K.smooth_switch(np.array([0.9, 1.0, 1.1]), 1.0, 1.0)
    assert list(w) == [1.0, 0.0, 0.0] and list(dw) == [0.0, 0.0, 0.0]


# --- cell geometry and periodic images --------------------------------------

def test_wrap_moves_by_lattice_vectors_into_the_cell(rng):
    box = _triclinic_box(rng=rng)
    coord = rng.uniform(-20.0, 20.0, size=(30, 3))
    wrapped = K.wrap_into_cell(coord, box)
    h = box.reshape(3, 3)
    frac = wrapped @ np.linalg.inv(h)
    assert np.all(frac >= -1e-12) and np.all(frac < 1.0 + 1e-12)
    shift = (wrapped - coord) @ np.linalg.inv(h)
    np.testing.assert_allclose(shift, np.round(shift), atol=1e-9)


@pytest.mark.parametrize("lengths, rcut", [((6.0, 6.5, 7.0), 3.0), ((2.1, 2.6, 3.2), 4.5)])
def test_images_cover_every_neighbour(rng, lengths, rcut):
    box = _triclinic_box(lengths, tilt=0.35, rng=rng)
    coord, atype = _cluster(rng, nat=6, extent=2.0)
    wrapped = K.wrap_into_cell(coord, box)
    ext, ext_type, mapping = K.periodic_images(wrapped, atype, box, rcut)
    nloc = len(atype)
    np.testing.assert_array_equal(ext[:nloc], wrapped)
    np.testing.assert_array_equal(mapping[:nloc], np.arange(nloc))
    np.testing.assert_array_equal(ext_type, atype[mapping])
    shift = (ext - wrapped[mapping]) @ np.linalg.inv(box.reshape(3, 3))
    np.testing.assert_allclose(shift, np.round(shift), atol=1e-9)
    cand = K.neighbor_candidates(ext, nloc, rcut, "brute")
    for i in range(nloc):
        assert sorted(mapping[cand[i]]) == _lattice_neighbours(wrapped, box, i, rcut)
    if rcut > min(lengths):  # a thin cell: an atom sees images of itself
        assert any(i in mapping[cand[i]] for i in range(nloc))


def test_zero_volume_box_is_rejected(rng):
    coord, atype = _cluster(rng, nat=4)
    flat = np.array([3.0, 0, 0, 0, 3.0, 0, 3.0, 3.0, 0])
    with pytest.raises(ValueError, match="zero volume"):
        K.periodic_images(coord, atype, flat, 2.0)
    with pytest.raises(ValueError, match="zero volume"):
        K.env_mat(coord, atype, 2.0, 1.0, [5, 5], box=flat)


def test_too_many_images_is_an_error_not_a_crash(rng):
    coord, atype = _cluster(rng, nat=4, extent=0.01)
    with pytest.raises(ValueError, match="too small"):
        K.periodic_images(coord, atype, np.diag([0.01, 0.01, 0.01]).reshape(9), 6.0)


# --- neighbour search ---------------------------------------------------------

@pytest.mark.parametrize("layout", ["dense", "sparse", "planar", "ghosts"])
def test_cell_list_equals_brute_force(rng, layout):
    if layout == "dense":
        coord = rng.uniform(0, 9.0, size=(300, 3))
    elif layout == "sparse":  # far-apart groups: bins must be merged, not exhausted
        coord = np.concatenate([rng.uniform(0, 3, size=(40, 3)),
                                rng.uniform(0, 3, size=(40, 3)) + 1e5])
    elif layout == "planar":
        coord = np.column_stack([rng.uniform(0, 10, size=(120, 2)), np.zeros(120)])
    else:
        coord = rng.uniform(-3, 12.0, size=(250, 3))
    nloc = 100 if layout == "ghosts" else len(coord)
    cells = K.neighbor_candidates(coord, nloc, RCUT, "cell")
    brute = K.neighbor_candidates(coord, nloc, RCUT, "brute")
    assert [list(c) for c in cells] == [list(b) for b in brute]
    assert sum(len(b) for b in brute) > 0


# --- environment matrix --------------------------------------------------------

def _energy_weights(rng, nloc, ndesc):
    return rng.normal(size=(nloc, ndesc))


@pytest.mark.parametrize("radial", [False, True])
@pytest.mark.parametrize("periodic", [False, True])
def test_env_mat_derivative_by_finite_differences(rng, radial, periodic):
    coord, atype = _cluster(rng, nat=8, extent=3.0)
    box = _triclinic_box((4.5, 5.0, 5.5), rng=rng) if periodic else None
    sel, ncomp = [12, 12], 1 if radial else 4
    ndesc = sum(sel) * ncomp
    dstd = rng.uniform(0.5, 2.0, size=(2, ndesc))
    davg = rng.normal(size=(2, ndesc))
    kw = dict(box=box, radial=radial, davg=davg, dstd=dstd)
    base = K.env_mat(coord, atype, RCUT, RCUT_SMTH, sel, **kw)
    nlist = base["nlist"]
    deriv = base["descrpt_deriv"].reshape(len(atype), ndesc, 3)
    h = 1e-6
    for k, d in itertools.product(range(len(atype)), range(3)):
        plus, minus = coord.copy(), coord.copy()
        plus[k, d] += h
        minus[k, d] -= h
        dp = K.env_mat(plus, atype, RCUT, RCUT_SMTH, sel, **kw)
        dm = K.env_mat(minus, atype, RCUT, RCUT_SMTH, sel, **kw)
        np.testing.assert_array_equal(dp["nlist"], nlist)  # no neighbour crosses rcut
        fd = ((dp["descrpt"] - dm["descrpt"]) / (2 * h)).reshape(len(atype), sum(sel), ncomp)
        # analytic: centre k gets +deriv, every slot holding k as neighbour gets -deriv
        want = np.zeros_like(fd)
        want[k] += deriv[k, :, d].reshape(sum(sel), ncomp)
        slot_is_k = (nlist == k)[:, :, None]
        want -= np.where(slot_is_k, deriv[:, :, d].reshape(len(atype), sum(sel), ncomp), 0.0)
        np.testing.assert_allclose(fd, want, atol=2e-7)


def test_env_mat_layout_padding_and_truncation(rng):
    coord, atype = _cluster(rng, nat=20, extent=3.0)
    sel = [3, 2]
    davg = rng.normal(size=(2, 20))
    dstd = rng.uniform(0.5, 2.0, size=(2, 20))
    out = K.env_mat(coord, atype, RCUT, RCUT_SMTH, sel, davg=davg, dstd=dstd)
    brute = K.neighbor_candidates(coord, len(atype), RCUT, "brute")
    counts = np.zeros(2, int)
    for i in range(len(atype)):
        for t, (lo, hi) in enumerate([(0, 3), (3, 5)]):
            cand = [j for j in brute[i] if atype[j] == t]
            counts[t] = max(counts[t], len(cand))
            dist = [np.sum((coord[j] - coord[i]) ** 2) for j in cand]
            nearest = [cand[k] for k in np.argsort(dist, kind="stable")][: hi - lo]
            block = out["nlist"][i, lo:hi]
            assert list(block[: len(nearest)]) == nearest
            assert np.all(block[len(nearest):] == -1)
            empty = np.arange(lo, hi)[block < 0]
            rows = out["descrpt"][i].reshape(5, 4)[empty]
            np.testing.assert_allclose(rows, (-davg[atype[i]] / dstd[atype[i]]).reshape(5, 4)[empty])
            assert np.all(out["rij"][i, empty] == 0.0)
    np.testing.assert_array_equal(out["max_nnei"], counts)
    assert counts.max() > max(sel)  # truncation really happened


def test_float32_kernel_matches_float64(rng):
    coord, atype = _cluster(rng, nat=10, extent=3.0)
    box = _triclinic_box((5.0, 5.5, 6.0))
    coord = coord.astype(np.float32).astype(np.float64)
    d64 = K.env_mat(coord, atype, RCUT, RCUT_SMTH, [20, 20], box=box)
    d32 = K.env_mat_f32(coord.astype(np.float32), atype, RCUT, RCUT_SMTH, [20, 20],
                        box=box.astype(np.float32))
    assert d32["descrpt"].dtype == np.float32
    np.testing.assert_array_equal(d32["nlist"], d64["nlist"])
    np.testing.assert_allclose(d32["descrpt"], d64["descrpt"], rtol=1e-4, atol=1e-5)


def test_external_list_with_ghosts_equals_built_search(rng):
    coord, atype = _cluster(rng, nat=16, extent=4.0)
    nloc = 10
    brute = K.neighbor_candidates(coord, nloc, RCUT, "brute")
    shuffled = [list(rng.permutation(b)) + [j for j in range(nloc, 16) if j not in b][:2] for b in brute]
    ext = K.env_mat(coord, atype, RCUT, RCUT_SMTH, [15, 15], nloc=nloc, neighbors=shuffled)
    own = K.env_mat(coord, atype, RCUT, RCUT_SMTH, [15, 15], nloc=nloc)
    for key in ("nlist", "descrpt", "descrpt_deriv", "rij", "max_nnei"):
        np.testing.assert_array_equal(ext[key], own[key])
    assert ext["nlist"].max() >= nloc  # ghosts are reported by extended index


def test_virtual_atoms_are_never_neighbours(rng):
    coord, atype = _cluster(rng, nat=10, extent=3.0)
    atype[[2, 5]] = -1
    out = K.env_mat(coord, atype, RCUT, RCUT_SMTH, [15, 15], davg=np.ones((2, 120)))
    assert not np.isin(out["nlist"], [2, 5]).any()
    assert np.all(out["descrpt"][[2, 5]] == 0.0) and np.all(out["descrpt_deriv"][[2, 5]] == 0.0)


# --- force / virial assembly -----------------------------------------------------

def _linear_energy(rng, coord, atype, sel, radial=False):
    """E = sum(w * descrpt) for random w, with F and W from the library."""
    ncomp = 1 if radial else 4
    weights = rng.normal(size=(len(atype), sum(sel) * ncomp))
    out = K.env_mat(coord, atype, RCUT, RCUT_SMTH, sel, radial=radial)
    return weights, out


@pytest.mark.parametrize("radial", [False, True])
def test_force_and_virial_match_finite_differences(rng, radial):
    coord, atype = _cluster(rng, nat=10, extent=3.0)
    sel, nloc = [15, 15], 10
    weights, out = _linear_energy(rng, coord, atype, sel, radial)
    energy = lambda c: np.sum(weights * K.env_mat(c, atype, RCUT, RCUT_SMTH, sel, radial=radial)["descrpt"])
    force = K.prod_force(weights, out["descrpt_deriv"], out["nlist"], nloc, nloc)
    virial, atom_virial = K.prod_virial(weights, out["descrpt_deriv"], out["rij"], out["nlist"], nloc, nloc)
    h = 1e-6
    fd = np.zeros_like(coord)
    for k, d in itertools.product(range(nloc), range(3)):
        plus, minus = coord.copy(), coord.copy()
        plus[k, d] += h
        minus[k, d] -= h
        fd[k, d] = -(energy(plus) - energy(minus)) / (2 * h)
    np.testing.assert_allclose(force, fd, atol=1e-6 * max(1.0, np.abs(fd).max()))
    # open boundaries: W_ab = sum_k F_k,a r_k,b (translation-invariant energy)
    np.testing.assert_allclose(virial, force.T @ coord, atol=1e-9)
    np.testing.assert_allclose(atom_virial.sum(0), virial, atol=1e-12)


def test_pair_virial_goes_to_the_neighbour(rng):
    coord = np.array([[0.0, 0.0, 0.0], [1.2, 0.3, -0.4]])
    atype = np.array([0, 0], dtype=np.int32)
    out = K.env_mat(coord, atype, RCUT, RCUT_SMTH, [2, 0])
    weights = np.zeros((2, 8))
    weights[0, :4] = rng.normal(size=4)  # only centre 0's environment has energy
    _, atom_virial = K.prod_virial(weights, out["descrpt_deriv"], out["rij"], out["nlist"], 2, 2)
    assert np.all(atom_virial[0] == 0.0) and np.any(atom_virial[1] != 0.0)


def test_grad_ops_are_exact_adjoints(rng):
    coord, atype = _cluster(rng, nat=12, extent=3.0)
    nloc, nall = 8, 12  # the last four are ghosts (neighbours only)
    out = K.env_mat(coord, atype, RCUT, RCUT_SMTH, [12, 12], nloc=nloc)
    g = rng.normal(size=out["descrpt"].shape)
    e = rng.normal(size=out["descrpt_deriv"].shape)  # any in_deriv: the ops are linear in g
    u = rng.normal(size=(nall, 3))
    force = K.prod_force(g, e, out["nlist"], nloc, nall)
    back = K.prod_force_grad(u, g, e, out["nlist"], nloc, nall)
    assert np.isclose(np.sum(u * force), np.sum(back * g.reshape(-1)), rtol=1e-12)
    grad_v = rng.normal(size=9)
    virial, _ = K.prod_virial(g, e, out["rij"], out["nlist"], nloc, nall)
    back_v = K.prod_virial_grad(grad_v, g, e, out["rij"], out["nlist"], nloc, nall)
    assert np.isclose(np.sum(grad_v * virial.reshape(-1)), np.sum(back_v * g.reshape(-1)), rtol=1e-12)


def test_force_grad_over_local_atoms_folds_ghosts_modulo_nloc(rng):
    coord, atype = _cluster(rng, nat=12, extent=3.0)
    nloc, nall = 8, 12
    out = K.env_mat(coord, atype, RCUT, RCUT_SMTH, [12, 12], nloc=nloc)
    g = rng.normal(size=out["descrpt"].shape)
    e = out["descrpt_deriv"]
    u_loc = rng.normal(size=(nloc, 3))
    folded = K.prod_force_grad(u_loc, g, e, out["nlist"], nloc, nall)
    u_all = np.concatenate([u_loc, u_loc[np.arange(nloc, nall) % nloc]])
    np.testing.assert_allclose(folded, K.prod_force_grad(u_all, g, e, out["nlist"], nloc, nall))


def test_results_do_not_depend_on_thread_count(rng):
    coord = rng.uniform(0, 9.0, size=(400, 3))
    atype = rng.integers(0, 2, size=400).astype(np.int32)
    box = np.diag([9.0, 9.0, 9.0]).reshape(9)
    threads = K.max_threads()
    results = []
    try:
        for n in (1, 2, 3):
            K.set_num_threads(n)
            out = K.env_mat(coord, atype, RCUT, RCUT_SMTH, [40, 40], box=box)
            g = np.sin(np.arange(out["descrpt"].size)).reshape(out["descrpt"].shape)
            f = K.prod_force(g, out["descrpt_deriv"], out["nlist"], 400, 400)
            v = K.prod_virial(g, out["descrpt_deriv"], out["rij"], out["nlist"], 400, 400)
            results.append((out["descrpt"], out["descrpt_deriv"], out["nlist"], f, v[0], v[1]))
    finally:
        K.set_num_threads(threads)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert np.array_equal(a, b)  # bitwise


# --- input errors ------------------------------------------------------------------

@pytest.mark.parametrize("rcut, rcut_smth, sel, word", [
    (0.0, 0.0, [4, 4], "rcut"), (3.0, 3.5, [4, 4], "rcut_smth"), (3.0, 1.0, [4, -1], "sel")])
def test_bad_attributes_are_rejected(rng, rcut, rcut_smth, sel, word):
    coord, atype = _cluster(rng, nat=4)
    with pytest.raises(ValueError, match=word):
        K.env_mat(coord, atype, rcut, rcut_smth, sel)


def test_bad_atoms_are_rejected(rng):
    coord, atype = _cluster(rng, nat=6)
    with pytest.raises(ValueError, match="type of atom 3"):
        K.env_mat(coord, np.array([0, 1, 0, 2, 1, 0], np.int32), RCUT, RCUT_SMTH, [5, 5])
    coord[2, 1] = np.nan
    with pytest.raises(ValueError, match="not finite"):
        K.env_mat(coord, atype, RCUT, RCUT_SMTH, [5, 5])


def test_bad_neighbour_lists_are_rejected(rng):
    coord, atype = _cluster(rng, nat=6)
    lists = [[j for j in range(6) if j != i] for i in range(6)]
    with pytest.raises(ValueError, match="out of"):
        K.env_mat(coord, atype, RCUT, RCUT_SMTH, [5, 5], neighbors=lists[:5] + [[0, 9]])
    with pytest.raises(ValueError, match="itself"):
        K.env_mat(coord, atype, RCUT, RCUT_SMTH, [5, 5], neighbors=lists[:5] + [[5]])
    out = K.env_mat(coord, atype, RCUT, RCUT_SMTH, [5, 5])
    nlist = out["nlist"].copy()
    nlist[0, 0] = 6
    with pytest.raises(ValueError, match="nall"):
        K.prod_force(np.ones((6, 40)), out["descrpt_deriv"], nlist, 6, 6)
