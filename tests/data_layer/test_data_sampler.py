"""Batch sizes, probabilities, set cycling, shuffling and determinism."""

import logging

import numpy as np
import pytest

from deepmt.data import DataRequirement, DataSystem, MultiSystemData, build_data
from deepmt.data.probability import resolve_batch_sizes, resolve_probs
from deepmt.errors import ConfigError


def _frame_ids(batch):
    """coord[:, 0] = 100 * set + frame (see conftest)."""
    return [int(v) for v in batch["coord"][:, 0]]


def test_batch_size_rules():
    natoms = [1, 5, 32, 33, 100]
    assert resolve_batch_sizes(4, natoms) == ([4] * 5, False)
    assert resolve_batch_sizes([1, 2, 3, 4, 5], natoms) == ([1, 2, 3, 4, 5], False)
    # auto = auto:32: the smallest bs with bs * natoms >= 32
    assert resolve_batch_sizes("auto", natoms) == ([32, 7, 1, 1, 1], True)
    assert resolve_batch_sizes("auto:100", natoms)[0] == [100, 20, 4, 4, 1]
    for bad in ([1, 2], "mixed:8", "auto:x", "often", 0, True, [1, 2, 3, 4, 0.5]):
        with pytest.raises(ConfigError, match="batch_size"):
            resolve_batch_sizes(bad, natoms)


def test_nbatch_rule(make_system):
    path, _ = make_system("s", [0], sets=(5, 3, 1))
    system = DataSystem(path)
    assert system.nbatch(1) == 9
    assert system.nbatch(2) == 2 + 1 + 1
    assert system.nbatch(4) == 1 + 1 + 1
    assert system.nbatch(10) == 3


def test_prob_rules():
    nbatch = [1, 2, 3, 4]
    np.testing.assert_allclose(resolve_probs("prob_uniform", None, nbatch), [0.25] * 4)
    np.testing.assert_allclose(resolve_probs("prob_sys_size", None, nbatch),
                               np.array(nbatch) / 10)
    np.testing.assert_allclose(resolve_probs("prob_sys_size;0:4:1.0", None, nbatch),
                               np.array(nbatch) / 10)
    # blocks [0,1) and [1,3) share 1:3, system 3 is not covered
    np.testing.assert_allclose(resolve_probs("prob_sys_size;0:1:1;1:3:3", None, nbatch),
                               [0.25, 0.75 * 2 / 5, 0.75 * 3 / 5, 0.0])
    # explicit: 0.4 and 0.1 given; the rest 0.5 shared by systems 1 and 3 as 2:4
    np.testing.assert_allclose(resolve_probs("prob_uniform", [0.4, -1, 0.1, -1], nbatch),
                               [0.4, 0.5 * 2 / 6, 0.1, 0.5 * 4 / 6])
    np.testing.assert_allclose(resolve_probs("x", [0.5, 0.5, 0, 0], nbatch), [0.5, 0.5, 0, 0])
    np.testing.assert_allclose(resolve_probs("x", [1.0, -1, -1, -1], nbatch), [1, 0, 0, 0])


@pytest.mark.parametrize("style, probs, match", [
    ("prob_magic", None, "not one of"),
    ("prob_sys_size;0:5:1", None, "0 <= start < end <= 4"),
    ("prob_sys_size;0:2:1;1:3:1", None, "overlap"),
    ("prob_sys_size;0:2", None, "start:end:weight"),
    ("prob_sys_size;0:2:0", None, "sum to 0"),
    ("prob_sys_size;0:2:-1", None, "negative weight"),
    ("prob_uniform", [0.5, 0.6, -1, -1], "sum to 1.1 > 1"),
    ("prob_uniform", [0.2, 0.2, 0.2, 0.2], "sums to 0.8, not 1"),
    ("prob_uniform", [0.5, 0.5], "2 entries but there are 4"),
])
def test_bad_prob_settings(style, probs, match):
    with pytest.raises(ConfigError, match=match):
        resolve_probs(style, probs, [1, 2, 3, 4])


def _many_systems(make_system, sizes):
    return [make_system(f"s{i}", [0] * nat, sets=(nf,), seed=i)[0]
            for i, (nat, nf) in enumerate(sizes)]


@pytest.mark.parametrize("auto_prob, sys_probs", [
    ("prob_uniform", None),
    ("prob_sys_size", None),
    ("prob_sys_size;0:2:0.2;2:4:0.8", None),
    ("prob_uniform", [0.1, -1, -1, 0.3]),
])
def test_empirical_frequencies(make_system, auto_prob, sys_probs):
    paths = _many_systems(make_system, [(1, 2), (2, 6), (3, 4), (1, 8)])
    data = MultiSystemData(paths, 2, None, (), auto_prob=auto_prob, sys_probs=sys_probs, rng=3)
    assert data.nbatches == [1, 3, 2, 4]
    ndraw = 20000
    counts = np.bincount([data.get_batch()["sys_idx"] for _ in range(ndraw)], minlength=4)
    expected = resolve_probs(auto_prob, sys_probs, data.nbatches)
    np.testing.assert_allclose(data.system_probs, expected)
    sigma = np.sqrt(expected * (1 - expected) / ndraw)
    assert np.all(np.abs(counts / ndraw - expected) <= 5 * sigma + 1e-12), (counts, expected)


def test_batches_never_mix_systems_and_natoms_follow(make_system):
    paths = _many_systems(make_system, [(1, 4), (3, 4)])
    data = MultiSystemData(paths, [2, 1], ["O"], rng=0)
    for _ in range(50):
        batch = data.get_batch()
        nat = [1, 3][batch["sys_idx"]]
        assert batch["coord"].shape == ([2, 1][batch["sys_idx"]], 3 * nat)
        np.testing.assert_array_equal(batch["natoms_vec"], [nat, nat, nat])


def test_set_cycling_remainder_and_reshuffle(make_system):
    path, _ = make_system("s", [0, 0], sets=(5, 3))
    system = DataSystem(path)
    rng = np.random.default_rng(0)
    batches = [_frame_ids(system.get_batch(2, rng)) for _ in range(12)]
    # per pass: two batches of set 0 (one frame dropped), one of set 1
    for start in (0, 3, 6, 9):
        first = batches[start] + batches[start + 1]
        assert len(set(first)) == 4 and all(f < 100 for f in first)
        assert len(batches[start + 2]) == 2 and all(100 <= f < 103 for f in batches[start + 2])
    passes = [tuple(batches[s] + batches[s + 1]) for s in (0, 3, 6, 9)]
    assert len(set(passes)) > 1  # reshuffled on each entry


def test_single_set_is_reshuffled_and_short_sets_are_whole(make_system):
    path, _ = make_system("s", [0], sets=(6,))
    system = DataSystem(path)
    rng = np.random.default_rng(1)
    seen = [_frame_ids(system.get_batch(3, rng)) for _ in range(8)]
    for k in range(0, 8, 2):
        assert sorted(seen[k] + seen[k + 1]) == list(range(6))
    assert len({tuple(seen[k] + seen[k + 1]) for k in range(0, 8, 2)}) > 1
    short, _ = make_system("short", [0], sets=(3,))
    whole = DataSystem(short).get_batch(5, rng)
    assert sorted(_frame_ids(whole)) == [0, 1, 2]


def test_short_set_warning(make_system, caplog):
    path, _ = make_system("s", [0], sets=(3, 8))
    with caplog.at_level(logging.WARNING):
        MultiSystemData([path], 5, None)
    assert "set.000" in caplog.text and "fewer than the batch size 5" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        MultiSystemData([path], "auto:500", None)
    assert caplog.text == ""


def test_numb_copy_repeats_frames(make_system):
    arrays = {"set.000": {"numb_copy": np.array([0, 3, 1])}}
    path, _ = make_system("s", [0], sets=(3,), arrays=arrays)
    batch = DataSystem(path).get_batch(4, np.random.default_rng(0))
    assert sorted(_frame_ids(batch)) == [1, 1, 1, 2]


def test_deterministic_for_a_seed(make_system):
    paths = _many_systems(make_system, [(1, 5), (2, 7), (3, 3)])

    def run(seed):
        data = MultiSystemData(paths, 2, None, [DataRequirement("energy", 1)], rng=seed)
        out = []
        for _ in range(30):
            batch = data.get_batch()
            out.append((batch["sys_idx"], tuple(_frame_ids(batch)), float(batch["energy"].sum())))
        return out

    assert run(7) == run(7)
    assert run(7) != run(8)
    generator_run = MultiSystemData(paths, 2, None, rng=np.random.default_rng(7))
    assert [generator_run.get_batch()["sys_idx"] for _ in range(30)] == [r[0] for r in run(7)]


def test_build_data_reads_the_block(make_system):
    paths = _many_systems(make_system, [(1, 4), (2, 4)])
    cfg = {"systems": paths, "batch_size": [1, 2], "auto_prob": "prob_uniform",
           "sys_probs": [0.25, 0.75], "numb_btch": 3, "set_prefix": "set"}
    data = build_data(cfg, ["O"], [DataRequirement("energy", 1)], rng=0)
    assert data.batch_sizes == [1, 2] and data.numb_btch == 3
    np.testing.assert_allclose(data.system_probs, [0.25, 0.75])
    assert "find_energy" in data.get_batch(1)


def test_custom_set_prefix(make_system, tmp_path):
    import os

    path, _ = make_system("s", [0], sets=(2, 2))
    os.rename(os.path.join(path, "set.001"), os.path.join(path, "frames.001"))
    assert len(DataSystem(path).sets) == 1
    assert [s.name for s in DataSystem(path, set_prefix="frames").sets] == ["frames.001"]


def test_many_small_systems(make_system):
    sizes = [(1 + i % 7, 1 + i % 5) for i in range(200)]
    paths = _many_systems(make_system, sizes)
    data = MultiSystemData(paths, "auto:4", ["O"], rng=0)
    assert data.nsystems == 200
    for _ in range(500):
        batch = data.get_batch()
        nat = sizes[batch["sys_idx"]][0]
        assert batch["type"].shape[1] == nat
