"""Neighbour statistics: the op-based scan against a brute-force NumPy oracle."""

import itertools
import json
from types import SimpleNamespace

import numpy as np
import pytest

from deepmt.data import DataSystem
from deepmt.data.neighbor_stat import auto_sel, neighbor_stat
from deepmt.errors import ConfigError, DataError


def _need_op():
    try:
        import deepmt.op as op

        op.load()
    except Exception as err:  # noqa: BLE001 - any failure means "not built yet"
        pytest.skip(f"compiled ops not available: {err}")


def brute_force(coord, box, types, rcut, ntypes):
    """Min distance and per-type max neighbour count of one frame, by
    enumerating enough lattice translations."""
    pos = coord.reshape(-1, 3)
    shifts = [np.zeros(3)]
    if box is not None:
        cell = box.reshape(3, 3)
        volume = abs(np.linalg.det(cell))
        faces = [volume / np.linalg.norm(np.cross(cell[(d + 1) % 3], cell[(d + 2) % 3]))
                 for d in range(3)]
        reach = [int(np.ceil(rcut / f)) + 1 for f in faces]
        shifts = [np.array(n) @ cell for n in itertools.product(
            *[range(-k, k + 1) for k in reach])]
    min_dist, counts = np.inf, np.zeros((len(pos), ntypes), dtype=int)
    for shift in shifts:
        dist = np.linalg.norm(pos[None, :, :] + shift - pos[:, None, :], axis=-1)
        if not np.any(shift):
            np.fill_diagonal(dist, np.inf)
        inside = dist < rcut
        min_dist = min(min_dist, dist[inside].min(initial=np.inf))
        for t in range(ntypes):
            counts[:, t] += inside[:, types == t].sum(axis=1)
    return min_dist, counts.max(axis=0)


def _oracle(systems, rcut, ntypes, one_type=False):
    best, most = np.inf, np.zeros(1 if one_type else ntypes, dtype=int)
    for system in systems:
        for _, _, batch in system.iter_frames():
            types = batch["type"][0] * (0 if one_type else 1)
            for f in range(batch["coord"].shape[0]):
                box = batch["box"][f] if system.pbc else None
                d, c = brute_force(batch["coord"][f], box, types, rcut, len(most))
                best, most = min(best, d), np.maximum(most, c)
    return best, most


def test_auto_sel_rule():
    np.testing.assert_array_equal(auto_sel([38, 72]), [44, 80])
    np.testing.assert_array_equal(auto_sel([0, 1, 4, 10], factor=1.0), [0, 4, 4, 12])
    np.testing.assert_array_equal(auto_sel(np.array([37]), factor=1.2), [44])  # int(44.4)


def _triclinic_system(make_system, name, nat, ntypes, nf, cell, pbc=True, seed=0):
    rng = np.random.default_rng(seed)
    frac = rng.uniform(size=(nf, nat, 3))
    coord = (frac @ cell).reshape(nf, -1)
    types = list(np.arange(nat) % ntypes)
    path, _ = make_system(name, types, sets=(nf,), pbc=pbc, labels=(), arrays={
        "set.000": {"coord": coord, "box": np.tile(cell.reshape(9), (nf, 1))}})
    return DataSystem(path, ntypes=ntypes)


@pytest.mark.parametrize("one_type", [False, True])
def test_matches_brute_force(make_system, one_type):
    _need_op()
    small = np.array([[3.0, 0.0, 0.0], [0.8, 2.9, 0.0], [0.3, -0.5, 3.2]])  # < rcut
    large = np.array([[9.0, 0.0, 0.0], [1.0, 8.5, 0.0], [0.5, 0.7, 9.5]])
    systems = [
        _triclinic_system(make_system, "small", 3, 2, 3, small, seed=1),
        _triclinic_system(make_system, "large", 40, 3, 4, large, seed=2),
        _triclinic_system(make_system, "cluster", 12, 3, 2, large, pbc=False, seed=3),
    ]
    rcut = 4.0
    min_dist, max_nnei = neighbor_stat(systems, rcut, 3, one_type=one_type)
    ref_dist, ref_nnei = _oracle(systems, rcut, 3, one_type)
    assert min_dist == pytest.approx(ref_dist, rel=1e-10)
    np.testing.assert_array_equal(max_nnei, ref_nnei)


def test_self_images_count(make_system):
    _need_op()
    # one atom in a 2 A cubic cell: its own images at 2 A are its neighbours
    path, _ = make_system("one", [0], sets=(1,), labels=(), arrays={"set.000": {
        "coord": np.zeros((1, 3)), "box": np.diag([2.0, 2.0, 2.0]).reshape(1, 9)}})
    min_dist, max_nnei = neighbor_stat([DataSystem(path)], 2.5, 1)
    assert min_dist == pytest.approx(2.0)
    np.testing.assert_array_equal(max_nnei, [6])


def test_coinciding_atoms(make_system):
    _need_op()
    coord = np.array([[0.0, 0.0, 0.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]])
    path, _ = make_system("same", [0, 0], sets=(2,), pbc=False, labels=(),
                          arrays={"set.000": {"coord": coord}})
    with pytest.raises(DataError, match="coincide in frame 1 of set set.000"):
        neighbor_stat([DataSystem(path)], 3.0, 1)


def _args(**kwargs):
    base = {"input": None, "system": None, "rcut": None, "type_map": None, "one_type": False}
    base.update(kwargs)
    return SimpleNamespace(**base)


def test_cli_settings_from_a_multi_task_input(make_system, tmp_path):
    from deepmt.entrypoints import neighbor_stat as cli

    a, _ = make_system("a", [0, 1], type_map=["O", "H"])
    b, _ = make_system("b", [1, 1, 0], type_map=["O", "H"])
    config = {"model": {"type_map": ["O", "H"], "descriptor": {"type": "se_e2_a", "rcut": 5.5}},
              "training": {"data_dict": {
                  "ener": {"training_data": {"systems": [a, b]}},
                  "dipole": {"training_data": {"systems": [b]},
                             "validation_data": {"systems": ["ignored"]}}}}}
    file = tmp_path / "input.json"
    file.write_text(json.dumps(config))
    blocks, type_map, rcut = cli._settings(_args(input=str(file)))
    assert type_map == ["O", "H"] and rcut == 5.5
    systems = cli._open_systems(blocks, type_map)
    assert [s.path for s in systems] == [a, b]  # union, b once
    _, _, rcut = cli._settings(_args(input=str(file), rcut=3.0))
    assert rcut == 3.0


def test_cli_settings_single_task_yaml_and_errors(make_system, tmp_path):
    from deepmt.entrypoints import neighbor_stat as cli

    a, _ = make_system("a", [0, 1], type_map=["O", "H"])
    (tmp_path / "in.yaml").write_text(
        "model:\n  type_map: [O, H]\n  descriptor:\n    type: hybrid\n    list:\n"
        "      - {rcut: 4.0}\n      - {rcut: 6.0}\ntraining:\n  training_data:\n"
        f"    systems: {a}\n")
    blocks, _, rcut = cli._settings(_args(input=str(tmp_path / "in.yaml")))
    assert rcut == 6.0 and blocks[0][1]["systems"] == a
    with pytest.raises(ConfigError, match="needs -r/--rcut and -t/--type-map"):
        cli._settings(_args(system=a))
    bad = {"model": {}, "training": {"training_data": {"systems": a}}}
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(ConfigError, match="'model.type_map' is missing"):
        cli._settings(_args(input=str(tmp_path / "bad.json"), rcut=3.0))
    with pytest.raises(ConfigError, match="does not exist"):
        cli._settings(_args(input=str(tmp_path / "none.json")))
