"""Self-checks of the NumPy oracle that need no compiled op.

Hand-computed layouts, the switching function, finite differences of the raw
rows and the image replication.  The physics checks shared with the ops
(finite differences of whole frames, invariances) live in the other files
and run on both backends.
"""

import numpy as np
import pytest

from reference import env_mat_np as em
from reference.systems import random_box, random_positions, random_types

RC, RS = 3.0, 0.5


def _w(r):
    """Switch written out by hand for the hand-built checks."""
    u = (r - RS) / (RC - RS)
    return u ** 3 * (-6 * u ** 2 + 15 * u - 10) + 1


def test_switch_end_values_and_continuity():
    w, dw = em.switch(np.array([0.1, RS, RC, RC + 1.0]), RC, RS)
    np.testing.assert_array_equal(w, [1.0, 1.0, 0.0, 0.0])
    np.testing.assert_array_equal(dw, [0.0, 0.0, 0.0, 0.0])
    eps = 1e-5
    # w' and w'' vanish at both ends from inside the switching region
    for edge, side in ((RS, 1.0), (RC, -1.0)):
        _, d1 = em.switch(np.array([edge + side * eps]), RC, RS)
        _, d2 = em.switch(np.array([edge + side * 2 * eps]), RC, RS)
        assert abs(d1[0]) < 1e-8
        assert abs((d2[0] - d1[0]) / eps) < 1e-3


def test_switch_derivative_by_finite_differences():
    r = np.linspace(RS + 1e-3, RC - 1e-3, 37)
    h = 1e-6
    wp, _ = em.switch(r + h, RC, RS)
    wm, _ = em.switch(r - h, RC, RS)
    _, dw = em.switch(r, RC, RS)
    np.testing.assert_allclose((wp - wm) / (2 * h), dw, rtol=1e-7, atol=1e-8)
    w, _ = em.switch(r, RC, RS)
    np.testing.assert_allclose(w, _w(r), rtol=1e-13, atol=1e-14)
    assert np.all(np.diff(w) < 0)


@pytest.mark.parametrize("kind", ["a", "r"])
def test_env_rows_derivative_by_finite_differences(rng, kind):
    # neighbours inside rs, in the switching region and beyond rc
    rij = rng.normal(size=(40, 3))
    rij *= (rng.uniform(0.3, 3.2, size=40) / np.linalg.norm(rij, axis=1))[:, None]
    filled = np.ones(40, dtype=bool)
    filled[::7] = False
    _, deriv = em.env_rows(rij, filled, RC, RS, kind)
    h = 1e-6
    for d in range(3):
        step = np.zeros(3)
        step[d] = h
        plus, _ = em.env_rows(rij + step, filled, RC, RS, kind)
        minus, _ = em.env_rows(rij - step, filled, RC, RS, kind)
        # stored derivative is w.r.t. the centre: minus the neighbour derivative
        np.testing.assert_allclose(-(plus - minus) / (2 * h), deriv[..., d], rtol=1e-6, atol=1e-8)
    assert not np.any(deriv[~filled])


def _cluster():
    coord = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.5, 0.0], [0.0, 0.0, 2.0]])
    return coord.reshape(1, 12), np.array([0, 1, 0, 1])


def test_hand_built_cluster_layout():
    coord, atype = _cluster()
    sel = [2, 3]
    out = em.env_mat_a(coord, atype, None, rcut=RC, rcut_smth=RS, sel=sel)
    want = [[2, -1, 1, 3, -1],
            [0, 2, 3, -1, -1],
            [0, -1, 1, 3, -1],
            [0, 2, 1, -1, -1]]
    np.testing.assert_array_equal(out["nlist"].reshape(4, 5), want)
    np.testing.assert_array_equal(out["max_nnei"], [[2, 2]])
    rij = out["rij"].reshape(4, 5, 3)
    np.testing.assert_allclose(rij[0, 0], [0.0, 1.5, 0.0])
    np.testing.assert_allclose(rij[3, 2], [1.0, 0.0, -2.0])
    assert not np.any(rij[0, 1]) and not np.any(rij[1, 4])
    rows = out["descrpt"].reshape(4, 5, 4)
    r0 = _w(1.5) / 1.5
    np.testing.assert_allclose(rows[0, 0], [r0, 0.0, r0, 0.0], rtol=1e-14)
    assert not np.any(rows[0, 1])


def test_empty_slots_hold_minus_davg_over_dstd():
    coord, atype = _cluster()
    sel = [2, 3]
    davg = np.arange(2 * 20, dtype=float).reshape(2, 20) / 7.0
    dstd = 1.0 + np.arange(2 * 20, dtype=float).reshape(2, 20) / 11.0
    out = em.env_mat_a(coord, atype, None, rcut=RC, rcut_smth=RS, sel=sel, davg=davg, dstd=dstd)
    rows = out["descrpt"].reshape(4, 5, 4)
    # atom 1 (type 1), slot 3 is empty: normalized with the centre type's statistics
    np.testing.assert_allclose(rows[1, 3], -davg[1, 12:16] / dstd[1, 12:16], rtol=1e-14)
    raw = em.env_mat_a(coord, atype, None, rcut=RC, rcut_smth=RS, sel=sel)
    np.testing.assert_allclose(rows[2, 0], (raw["descrpt"].reshape(4, 5, 4)[2, 0] - davg[0, :4])
                               / dstd[0, :4], rtol=1e-14)
    np.testing.assert_allclose(out["descrpt_deriv"].reshape(4, 5, 4, 3)[0, 2],
                               raw["descrpt_deriv"].reshape(4, 5, 4, 3)[0, 2] / dstd[0, 8:12, None])


def test_truncation_keeps_the_nearest():
    coord, atype = _cluster()
    out = em.env_mat_a(coord, atype, None, rcut=RC, rcut_smth=RS, sel=[1, 1])
    np.testing.assert_array_equal(out["nlist"].reshape(4, 2), [[2, 1], [0, 3], [0, 1], [0, 1]])
    np.testing.assert_array_equal(out["max_nnei"], [[2, 2]])


def test_replication_is_enough(rng):
    # a cell much shorter than rcut: the oracle's images equal a far larger replication
    box = random_box(rng, [2.1, 2.4, 2.7], tilt=0.4)
    atype = random_types(rng, 4, 2)
    coord = random_positions(rng, 4, box, min_dist=0.8)
    rcut = 4.5
    ext, ext_type, mapping = em.replicate(coord, atype, box, rcut)
    big, big_type, _ = em.replicate(coord, atype, box, rcut + 2.0 * max(em.face_distances(box)))
    assert len(big) > len(ext)
    for i in range(4):
        idx, key = em.sorted_candidates(ext, ext_type, i, rcut)
        bidx, bkey = em.sorted_candidates(big, big_type, i, rcut)
        np.testing.assert_array_equal(key, bkey)
        np.testing.assert_allclose(ext[idx] - ext[i], big[bidx] - big[i], atol=1e-12)
        # images of the centre itself are neighbours when the cell is short
        assert np.any(mapping[idx] == i)


def test_float32_sort_key():
    # two neighbours whose float64 distances differ but float32 r^2 ties:
    # the lower extended index comes first
    coord = np.array([[0.0, 0.0, 0.0], [2.0 + 3e-9, 0.0, 0.0], [0.0, 2.0, 0.0]])
    out = em.env_mat_a(coord.reshape(1, 9), [0, 0, 0], None, rcut=RC, rcut_smth=RS, sel=[2])
    np.testing.assert_array_equal(out["nlist"].reshape(3, 2)[0], [1, 2])
    assert out["tied"][0, 0]
    coord[[1, 2]] = coord[[2, 1]]
    out = em.env_mat_a(coord.reshape(1, 9), [0, 0, 0], None, rcut=RC, rcut_smth=RS, sel=[2])
    np.testing.assert_array_equal(out["nlist"].reshape(3, 2)[0], [1, 2])


def test_comparison_accepts_tie_swaps_and_catches_errors():
    """The tie-aware comparison must not hide real differences."""
    from reference.compare import assert_env_equal
    from reference.systems import random_stats, random_system

    rng = np.random.default_rng(12)
    system = random_system(rng, 4, 2, lengths=[2.6, 3.0, 3.4], tilt=0.4, min_dist=1.0)
    sel, kw = [70, 70], dict(rcut=4.5, rcut_smth=1.5)
    davg, dstd = random_stats(rng, 2, 140, 4)
    ref = em.env_mat_a(system.coord, system.atype, system.box, sel=sel, davg=davg, dstd=dstd, **kw)
    args = dict(sel=sel, atype_local=system.atype, davg=davg, dstd=dstd, kind="a", **kw)

    def changed(fn):
        keys = ("descrpt", "descrpt_deriv", "rij", "nlist", "max_nnei")
        out = {k: np.array(ref[k], copy=True) for k in keys}
        fn(out)
        return out

    i = int(np.argmax(ref["tied"][0]))
    cand = ref["candidates"][0][i]
    k = int(np.nonzero((cand["key"][1:] == cand["key"][:-1]) & (cand["type"][1:] == cand["type"][:-1]))[0][0])
    t = int(cand["type"][k])
    slot = sum(sel[:t]) + int(np.sum(cand["type"][:k] == t))

    def swap(out, a, b):
        # swap whole slots: nlist, rij, and their rows recomputed for the new place
        for key, width in (("nlist", 1), ("rij", 3)):
            v = out[key].reshape(1, 4, 140, width)
            v[0, i, [a, b]] = v[0, i, [b, a]]
        desc, deriv = em.rows_from_rij(out["rij"].reshape(4, 140, 3), out["nlist"].reshape(4, 140),
                                       system.atype, davg, dstd, kind="a", **kw)
        out["descrpt"][0], out["descrpt_deriv"][0] = desc.reshape(-1), deriv.reshape(-1)

    assert_env_equal(changed(lambda o: swap(o, slot, slot + 1)), ref, **args)
    with pytest.raises(AssertionError, match="no float32 tie|not an oracle candidate"):
        assert_env_equal(changed(lambda o: swap(o, 0, 1)), ref, **args)
    def nudge(out):
        out["descrpt"][0, 7] += 1e-9

    with pytest.raises(AssertionError, match="descrpt"):
        assert_env_equal(changed(nudge), ref, **args)
    with pytest.raises(AssertionError, match="max_nnei"):
        assert_env_equal(changed(lambda o: o["max_nnei"].__setitem__((0, 1), 3)), ref, **args)
    with pytest.raises(AssertionError):
        assert_env_equal(changed(lambda o: o["nlist"][0].__setitem__(3, -1)), ref, **args)
