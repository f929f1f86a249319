"""Energy bias, polarizability shift, fparam/aparam statistics."""

import numpy as np
import pytest

from deepmt.data import (DataRequirement, MultiSystemData, energy_bias, make_stat_sample,
                         param_stats, polar_diag_shift, pool_frames)

ENERGY = [DataRequirement("energy", 1)]
POLAR = [DataRequirement("polarizability", 9),
         DataRequirement("atomic_polarizability", 9, atomic=True, type_sel=(0, 1))]


def _energy_systems(make_system, compositions, bias, nf=4, noise=0.0, seed=0):
    rng = np.random.default_rng(seed)
    paths, energies = [], []
    for k, types in enumerate(compositions):
        counts = np.bincount(types, minlength=len(bias))
        energy = counts @ bias + noise * rng.normal(size=nf)
        path, _ = make_system(f"e{k}", types, sets=(nf,), labels=(),
                              arrays={"set.000": {"energy": energy}})
        paths.append(path)
        energies.append(energy)
    return paths, energies


def _sample(paths, bs, nbatch, reqs, type_map=("O", "H", "C")):
    data = MultiSystemData(paths, bs, list(type_map), reqs, rng=0)
    return make_stat_sample(data, nbatch)


def test_stat_sample_shape_and_pooling(make_system):
    paths, _ = _energy_systems(make_system, [[0, 1], [1, 1, 2]], np.ones(3))
    sample = _sample(paths, 2, 3, ENERGY)
    assert len(sample) == 2 and all(len(b) == 3 for b in sample)
    assert all(b["sys_idx"] == i for i, batches in enumerate(sample) for b in batches)
    assert len(pool_frames(sample, sample[:1])) == 9


def test_energy_bias_recovers_exact_per_type_energies(make_system):
    bias = np.array([-3.0, 1.5, 7.0])
    comps = [[0, 1, 1], [0, 0, 1, 2], [2, 2, 1], [0, 2]]
    paths, _ = _energy_systems(make_system, comps, bias)
    sample = _sample(paths, 2, 2, ENERGY)
    np.testing.assert_allclose(energy_bias(sample, 3), bias, atol=1e-10)


def test_energy_bias_is_one_row_per_system(make_system):
    # 3 systems, 2 types, 2 / 6 / 4 stat frames: a per-frame fit would weight
    # the systems 2:6:4, the per-system fit weights them equally
    comps, nfs = [[0, 1], [0, 0, 0, 1], [0, 1, 1]], [2, 6, 4]
    rng = np.random.default_rng(5)
    paths, means = [], []
    for k, (types, nf) in enumerate(zip(comps, nfs)):
        energy = np.bincount(types) @ [1.0, 2.0] + rng.normal(size=nf)
        paths.append(make_system(f"e{k}", types, sets=(nf,), labels=(),
                                 arrays={"set.000": {"energy": energy}})[0])
        means.append(energy.mean())
    data = MultiSystemData(paths, [1, 3, 2], ["O", "H"], ENERGY, rng=0)
    sample = make_stat_sample(data, 2)  # every frame exactly once
    counts = np.array([[1, 1], [3, 1], [1, 2]], dtype=float)
    expected = np.linalg.lstsq(counts, np.array(means), rcond=None)[0]
    np.testing.assert_allclose(energy_bias(sample, 2), expected, rtol=1e-12)
    per_frame = np.linalg.lstsq(np.repeat(counts, nfs, axis=0),
                                np.concatenate([np.reshape(b["energy"], -1) for s in sample
                                                for b in s]), rcond=None)[0]
    assert not np.allclose(per_frame, expected)


def test_energy_bias_single_system_min_norm(make_system):
    paths, energies = _energy_systems(make_system, [[0, 1, 1]], np.array([2.0, -1.0]),
                                      noise=0.3)
    sample = _sample(paths, 4, 1, ENERGY, type_map=("O", "H"))
    c = np.array([1.0, 2.0])
    np.testing.assert_allclose(energy_bias(sample, 2), energies[0].mean() * c / (c @ c))


def test_energy_bias_with_pinned_type(make_system):
    bias = np.array([-3.0, 1.5, 7.0])
    comps = [[0, 1, 1], [0, 0, 1, 2], [2, 2, 1]]
    paths, _ = _energy_systems(make_system, comps, bias)
    sample = _sample(paths, 2, 2, ENERGY)
    pinned = energy_bias(sample, 3, atom_ener=[None, 4.0])
    assert pinned[1] == 4.0
    counts = np.array([[1, 2, 0], [2, 1, 1], [0, 1, 2]], dtype=float)
    rhs = counts @ bias - 4.0 * counts[:, 1]
    free = np.linalg.lstsq(counts[:, [0, 2]], rhs, rcond=None)[0]
    np.testing.assert_allclose(pinned[[0, 2]], free, atol=1e-10)


def test_energy_bias_skips_systems_without_energy(make_system):
    bias = np.array([1.0, 2.0])
    paths, _ = _energy_systems(make_system, [[0, 1], [0, 0, 1]], bias)
    unlabeled, _ = make_system("nolabel", [1, 1, 1, 1], labels=())
    sample = _sample(paths + [unlabeled], 2, 2, ENERGY, type_map=("O", "H"))
    np.testing.assert_allclose(energy_bias(sample, 2), bias, atol=1e-10)
    only_unlabeled = _sample([unlabeled], 2, 1, ENERGY, type_map=("O", "H"))
    np.testing.assert_array_equal(energy_bias(only_unlabeled, 2), [0.0, 0.0])


def _traceless_sym(rng, shape):
    a = rng.normal(size=shape + (3, 3))
    a = a + np.swapaxes(a, -1, -2)
    return a - np.trace(a, axis1=-2, axis2=-1)[..., None, None] * np.eye(3) / 3


def test_polar_shift_atomic_labels_indexed_by_type(make_system):
    # model types O H C; only H (type 1) selected; atoms H O H H (H not first)
    rng = np.random.default_rng(0)
    nf, nsel = 4, 3
    atomic = 2.5 * np.eye(3) + 0.1 * _traceless_sym(rng, (nf, nsel))
    path, _ = make_system("p", [1, 0, 1, 1], type_map=["O", "H", "C"], sets=(nf,), labels=(),
                          arrays={"set.000": {"atomic_polarizability": atomic.reshape(nf, 27)}})
    reqs = [DataRequirement("atomic_polarizability", 9, atomic=True, type_sel=(1,))]
    sample = _sample([path], 2, 2, reqs)
    shift = polar_diag_shift(sample, 3, sel_type=[1])
    np.testing.assert_allclose(shift, [0.0, 2.5, 0.0], atol=1e-12)


def test_polar_shift_global_labels_use_every_frame(make_system):
    # two compositions with global labels, batches of 3 frames
    c = np.array([1.2, 0.4])
    rng = np.random.default_rng(1)
    paths = []
    for k, types in enumerate([[0, 1, 1], [0, 0, 1, 1, 1]]):
        counts = np.bincount(types, minlength=2)
        nf = 6
        glob = (counts @ c) * np.eye(3) + 0.05 * _traceless_sym(rng, (nf,))
        path, _ = make_system(f"g{k}", types, sets=(nf,), labels=(),
                              arrays={"set.000": {"polarizability": glob.reshape(nf, 9)}})
        paths.append(path)
    sample = _sample(paths, 3, 2, POLAR, type_map=("O", "H"))
    assert sample[0][0]["polarizability"].shape == (3, 9)
    np.testing.assert_allclose(polar_diag_shift(sample, 2, [0, 1]), c, atol=1e-10)


def test_polar_shift_matches_numpy_equations(make_system):
    rng = np.random.default_rng(2)
    types = [1, 0, 1]
    nf = 4
    atomic = rng.normal(size=(nf, 3, 9))
    path_a, _ = make_system("a", types, type_map=["O", "H"], sets=(nf,), labels=(),
                            arrays={"set.000": {"atomic_polarizability": atomic.reshape(nf, 27)}})
    glob = rng.normal(size=(nf, 9))
    path_g, _ = make_system("g", [0, 0, 1], type_map=["O", "H"], sets=(nf,), labels=(),
                            arrays={"set.000": {"polarizability": glob}})
    sample = _sample([path_a, path_g], nf, 1, POLAR, type_map=("O", "H"))
    # independent equations from the files: atoms O=user 1, H=users 0 and 2
    rows, rhs = [], []
    for f in range(nf):
        rows += [[1.0, 0.0], [0.0, 2.0]]
        rhs += [atomic[f, 1], atomic[f, 0] + atomic[f, 2]]
    for f in range(nf):
        rows.append([2.0, 1.0])
        rhs.append(glob[f])
    sol = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=1e-3)[0]
    expected = [np.trace(sol[k].reshape(3, 3)) / 3 for k in range(2)]
    np.testing.assert_allclose(polar_diag_shift(sample, 2, [0, 1]), expected, atol=1e-12)


def test_polar_shift_without_labels_is_zero(make_system):
    path, _ = make_system("n", [0, 1], labels=())
    sample = _sample([path], 1, 1, POLAR, type_map=("O", "H"))
    np.testing.assert_array_equal(polar_diag_shift(sample, 2, [0]), [0.0, 0.0])


def test_param_stats_against_numpy(make_system):
    rng = np.random.default_rng(3)
    paths, fparams, aparams = [], [], []
    for k, types in enumerate([[0, 1], [1, 1, 0]]):
        nf, nat = 4, len(types)
        fparam = np.stack([rng.normal(2.0, 3.0, nf), np.full(nf, 7.0)], axis=1)
        aparam = rng.normal(size=(nf, nat, 2)) * [1.0, 0.001]
        path, _ = make_system(f"p{k}", types, sets=(nf,), labels=(), arrays={
            "set.000": {"fparam": fparam, "aparam": aparam.reshape(nf, -1)}})
        paths.append(path)
        fparams.append(fparam)
        aparams.append(aparam.reshape(-1, 2))
    reqs = [DataRequirement("fparam", 2, must=True),
            DataRequirement("aparam", 2, atomic=True, must=True)]
    sample = _sample(paths, 2, 2, reqs, type_map=("O", "H"))
    mean, std = param_stats(sample, "fparam", 2, protect=1e-2)
    allf = np.concatenate(fparams)
    np.testing.assert_allclose(mean, allf.mean(axis=0))
    np.testing.assert_allclose(std, [allf[:, 0].std(), 1e-2])
    mean, std = param_stats(sample, "aparam", 2, protect=1e-2)
    alla = np.concatenate(aparams)
    np.testing.assert_allclose(mean, alla.mean(axis=0))
    assert std[0] == pytest.approx(alla[:, 0].std()) and std[1] == 1e-2
