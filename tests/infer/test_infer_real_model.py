"""Freeze and inference on a real deepmt model (compiled ops, se_e2_a, three kinds of heads)."""

import os

import numpy as np
import pytest
from infer_real import HEADS, run_training_graph, water_frames, write_real_checkpoint

from deepmt import keys
from deepmt.freeze import freeze
from deepmt.infer import DeepDipole, DeepEval, DeepPolar, DeepPot, eval_heads
from deepmt.infer.model_file import read_graph_def
from deepmt.utils.tf_compat import get_tf


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """``(checkpoint prefix, united file, {head: single-head file})``."""
    folder = tmp_path_factory.mktemp("real")
    prefix = write_real_checkpoint(str(folder))
    united = str(folder / "united.pb")
    freeze(str(folder), united)
    singles = {}
    for head in ("water", "dip"):
        singles[head] = str(folder / f"{head}.pb")
        freeze(prefix, singles[head], head=head)
    return prefix, united, singles


@pytest.fixture(scope="module")
def base(real):
    return DeepEval(real[1])


def test_frozen_graph_has_no_variables_and_single_copies(real):
    graph_def = read_graph_def(real[1])
    assert not {n.op for n in graph_def.node} & {"VariableV2", "Assign", "SaveV2"}
    blobs = [n.attr["value"].tensor.tensor_content for n in graph_def.node
             if n.op == "Const" and len(n.attr["value"].tensor.tensor_content) > 64]
    assert len(blobs) == len(set(blobs))
    names = {n.name for n in graph_def.node}
    assert {"descrpt_attr/t_avg", "descrpt_attr/t_std", "heads/pbe/t_fparam"} <= names


def test_energy_heads_reproduce_training_graph_bitwise(real, base):
    coord, cell, atype = water_frames(nframes=3, seed=1)
    fetch = [keys.head_node(h, n) for h in ("water", "pbe")
             for n in (keys.O_ENERGY, keys.O_FORCE, keys.O_VIRIAL)]
    fparam = np.array([[0.1], [0.4], [0.7]])
    values, order = run_training_graph(real[0], coord, cell, atype, fetch, fparam=fparam)
    unsort = np.argsort(order)
    for index, head in enumerate(("water", "pbe")):
        energy, force, virial = values[3 * index: 3 * index + 3]
        kwargs = {"fparam": fparam} if head == "pbe" else {}
        e, f, v = DeepPot(base, head=head).eval(coord, cell, atype, **kwargs)
        np.testing.assert_array_equal(e[:, 0], energy)
        np.testing.assert_array_equal(f, force.reshape(3, -1, 3)[:, unsort])
        np.testing.assert_array_equal(v, virial)


def test_tensor_heads_reproduce_training_graph_bitwise(real, base):
    coord, cell, atype = water_frames(nframes=2, seed=2)
    fetch = [keys.head_node("dip", keys.O_GLOBAL_DIPOLE), keys.head_node("pol", keys.O_POLAR)]
    (dipole, polar), order = run_training_graph(real[0], coord, cell, atype, fetch)
    np.testing.assert_array_equal(DeepDipole(base).eval(coord, cell, atype, atomic=False), dipole)
    # both types are polar sel types: atomic rows are all atoms, sorted -> input order
    np.testing.assert_array_equal(DeepPolar(base).eval(coord, cell, atype),
                                  polar.reshape(2, -1, 9)[:, np.argsort(order)])


def test_forces_and_virial_by_finite_differences(base):
    pot = DeepPot(base, head="water")
    coord, cell, atype = water_frames(nframes=1, seed=3)
    _, force, virial = pot.eval(coord, cell, atype)
    step, nat = 1e-5, atype.size
    moved = []
    for atom in range(nat):
        for axis in range(3):
            for sign in (1, -1):
                frame = coord[0].copy()
                frame[atom, axis] += sign * step
                moved.append(frame)
    energy = pot.eval(np.array(moved), cell[0], atype)[0].reshape(nat, 3, 2)
    np.testing.assert_allclose(force[0], -(energy[..., 0] - energy[..., 1]) / (2 * step),
                               atol=1e-7)
    box = cell[0].reshape(3, 3)
    coords, cells = [], []
    for a in range(3):
        for b in range(3):
            for sign in (1, -1):
                strain = np.eye(3)
                strain[a, b] += sign * step
                coords.append(coord[0] @ strain)
                cells.append((box @ strain).reshape(9))
    energy = pot.eval(np.array(coords), np.array(cells), atype)[0].reshape(3, 3, 2)
    numeric = -(energy[..., 0] - energy[..., 1]) / (2 * step)
    np.testing.assert_allclose(virial[0].reshape(3, 3), numeric, atol=1e-7)


def test_dipole_derivatives_by_finite_differences(base):
    dipole = DeepDipole(base, head="dip")
    coord, cell, atype = water_frames(nframes=1, seed=4)
    _, force, _ = dipole.eval_full(coord, None, atype)
    step, nat = 1e-5, atype.size
    moved = []
    for atom in range(nat):
        for axis in range(3):
            for sign in (1, -1):
                frame = coord[0].copy()
                frame[atom, axis] += sign * step
                moved.append(frame)
    glob = dipole.eval(np.array(moved), None, atype, atomic=False).reshape(nat, 3, 2, 3)
    numeric = -(glob[:, :, 0] - glob[:, :, 1]) / (2 * step)  # atom x axis x component
    np.testing.assert_allclose(force[0], numeric.transpose(2, 0, 1), atol=1e-7)


def test_single_head_files_equal_united_file(real, base):
    coord, cell, atype = water_frames(nframes=2, seed=5)
    united = DeepPot(base, head="water").eval(coord, cell, atype, atomic=True)
    single = DeepPot(real[2]["water"]).eval(coord, cell, atype, atomic=True)
    for one, two in zip(single, united):
        np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(DeepDipole(real[2]["dip"]).eval(coord, cell, atype),
                                  DeepDipole(base).eval(coord, cell, atype))
    assert os.path.getsize(real[2]["dip"]) < os.path.getsize(real[1])


def test_eval_heads_and_pruning(base, monkeypatch):
    tf = get_tf()
    coord, cell, atype = water_frames(nframes=2, seed=6)
    separate = {"water": DeepPot(base).eval(coord, cell, atype),
                "pol": DeepPolar(base).eval(coord, cell, atype, atomic=False)}
    session, run = base._model.session, base._model.session.run
    executed = []

    def traced(fetches, feed_dict=None):
        metadata = tf.RunMetadata()
        out = run(fetches, feed_dict=feed_dict, run_metadata=metadata,
                  options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE))
        executed.append([s.node_name for d in metadata.step_stats.dev_stats for s in d.node_stats])
        return out

    monkeypatch.setattr(session, "run", traced)
    together = eval_heads(base, coord, cell, atype, heads=["water", "pol"])
    assert len(executed) == 1
    for head in ("water", "pol"):
        assert any(n.startswith(f"load/heads/{head}/") for n in executed[0])
    for head in ("pbe", "dip"):
        assert not any(n.startswith(f"load/heads/{head}/") for n in executed[0])
    for one, two in zip(together["water"], separate["water"]):
        np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(together["pol"], separate["pol"])
    assert set(HEADS) == set(base.get_heads())
