"""Graph layout of the multi-head model: names, sharing, pruning, stats, init."""

import json

import numpy as np
import pytest

import deepmt
from deepmt import keys
from deepmt.errors import ConfigError, HeadError, ModelFileError
from deepmt.model import build_model
from deepmt.utils.tf_compat import get_tf

from mt_helpers import (DIPOLE, ENER, POLAR, TYPE_MAP, ModelRunner, make_batch, model_config,
                        random_system)

HEADS = {"water": dict(ENER), "other.pbe": dict(ENER, numb_fparam=2),
         "dip": dict(DIPOLE), "pol": dict(POLAR, sel_type=[1])}


@pytest.fixture(scope="module")
def runner():
    model = build_model(model_config(), HEADS, TYPE_MAP)
    yield ModelRunner(model)


def test_placeholders_and_output_names(runner):
    g = runner.graph
    for name, dtype, shape in ((keys.T_COORD, "float64", [None]), (keys.T_TYPE, "int32", [None]),
                               (keys.T_NATOMS, "int32", [4]), (keys.T_BOX, "float64", [None]),
                               (keys.T_MESH, "int32", [None]),
                               ("heads/other.pbe/t_fparam", "float64", [None])):
        op = g.get_operation_by_name(name)
        assert op.type == "Placeholder"
        assert op.outputs[0].dtype.name == dtype and op.outputs[0].shape.as_list() == shape
    assert "heads/water/t_fparam" not in runner.ph
    shared = [keys.O_DESCRIPTOR, keys.O_RMAT, keys.O_RMAT_DERIV, keys.O_RIJ, keys.O_NLIST,
              keys.O_MAX_NNEI, keys.DESCRPT_RCUT, keys.DESCRPT_NTYPES, keys.DESCRPT_SEL,
              "descrpt_attr/t_avg", "descrpt_attr/t_std", keys.TYPE_MAP, keys.ATTR_FORMAT,
              keys.ATTR_METADATA]
    per_head = {"water": [keys.O_ENERGY, keys.O_FORCE, keys.O_VIRIAL, keys.O_ATOM_ENERGY,
                          keys.O_ATOM_VIRIAL, "fitting_attr/t_bias_atom_e"],
                "other.pbe": ["fitting_attr/t_fparam_avg", "fitting_attr/t_fparam_istd"],
                "dip": [keys.O_DIPOLE, keys.O_GLOBAL_DIPOLE, keys.O_FORCE, keys.O_VIRIAL,
                        keys.O_ATOM_VIRIAL, "model_attr/sel_type", "model_attr/output_dim"],
                "pol": [keys.O_POLAR, keys.O_GLOBAL_POLAR, "fitting_attr/t_constant_matrix"]}
    names = {op.name for op in g.get_operations()}
    assert set(shared) <= names
    for head, items in per_head.items():
        assert {keys.head_node(head, n) for n in items} <= names
    assert g.get_tensor_by_name("descrpt_attr/rcut:0").dtype.name == "float64"
    assert "heads/pol/layer_0_type_1/matrix" in names
    assert "heads/pol/layer_0_type_0/matrix" not in names  # O is not a polar sel type


def test_metadata_and_attributes(runner):
    sess, g = runner.sess, runner.graph
    meta = json.loads(sess.run(g.get_tensor_by_name(keys.ATTR_METADATA + ":0")))
    assert meta["format"] == keys.FORMAT == sess.run(
        g.get_tensor_by_name(keys.ATTR_FORMAT + ":0")).decode()
    assert meta["version"] == deepmt.__version__
    assert meta["type_map"] == TYPE_MAP and meta["default_head"] == "water"
    assert meta["rcut"] == 4.0 and meta["sel"] == [16, 32]
    assert meta["descriptor"]["type"] == "se_e2_a" and meta["descriptor"]["neuron"] == [4, 8, 16]
    assert list(meta["heads"]) == list(HEADS)
    assert meta["heads"]["other.pbe"] == {"type": "ener", "sel_type": [0, 1], "output_dim": 1,
                                          "dim_fparam": 2, "dim_aparam": 0}
    assert meta["heads"]["pol"]["sel_type"] == [1] and meta["heads"]["pol"]["output_dim"] == 9
    assert sess.run(g.get_tensor_by_name(keys.TYPE_MAP + ":0")).decode() == "O H"
    assert list(sess.run(g.get_tensor_by_name(keys.DESCRPT_SEL + ":0"))) == [16, 32]
    assert sess.run(g.get_tensor_by_name("heads/dip/model_attr/sel_type:0")).tolist() == [0]


def test_descriptor_is_built_once_and_shared(runner):
    g = runner.graph
    env_ops = [op for op in g.get_operations() if op.type == "DmtEnvMatA"]
    assert len(env_ops) == 1
    desc_vars = [v.op.name for v in g.get_collection("variables") if "filter_type" in v.op.name]
    assert len(desc_vars) == len(set(desc_vars)) == 2 * 2 * 3 * 2  # 4 nets x 3 layers x (W, b)
    # every head's output depends on the one environment op

    def ancestors(tensor):
        seen, todo = set(), [tensor.op]
        while todo:
            op = todo.pop()
            if op.name not in seen:
                seen.add(op.name)
                todo.extend(t.op for t in op.inputs)
        return seen

    for head, out in runner.out.items():
        first = next(iter(out.values()))
        assert env_ops[0].name in ancestors(first)


def _executed(runner, fetch, feed):
    tf = get_tf()
    meta = tf.RunMetadata()
    runner.sess.run(fetch, feed, options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE),
                    run_metadata=meta)
    names = {n.node_name for dev in meta.step_stats.dev_stats for n in dev.node_stats}
    types = {op.type for op in runner.graph.get_operations() if op.name in names}
    return names, types


def test_fetching_one_head_runs_no_other_head(runner, rng):
    coord, box, atype = random_system(rng, (4, 8))
    feed = runner.feed(coord, box, atype, fparam=np.zeros(2))
    names, types = _executed(runner, runner.out["water"]["energy"], feed)
    assert any(name.startswith("heads/water/") for name in names)
    assert "DmtEnvMatA" in types
    assert not any(name.startswith(("heads/other.pbe/", "heads/dip/", "heads/pol/"))
                   for name in names)
    assert "DmtProdForce" not in types  # forces only when asked for
    names, types = _executed(runner, runner.out["water"]["force"], feed)
    assert "DmtProdForce" in types
    assert not any(name.startswith(("heads/other.pbe/", "heads/dip/", "heads/pol/"))
                   for name in names)
    # a tensor head's main output does not compute its component-wise forces
    names, types = _executed(runner, runner.out["dip"]["dipole"], feed)
    assert any(name.startswith("heads/dip/") for name in names)
    assert not types & {"DmtProdForce", "DmtProdVirial"}
    assert not any(name.startswith(("heads/water/", "heads/pol/")) for name in names)


def test_tensor_head_derivatives_are_one_loop_equal_to_per_component_gradients(rng):
    """All ``odim`` components share one backward pass (a map_fn body): one
    DmtProdForce node per head, values bitwise equal to one gradient per
    component taken the straightforward way."""
    tf = get_tf()
    model = build_model(model_config(), {"pol": dict(POLAR)}, TYPE_MAP)
    run = ModelRunner(model)
    prod = [op for op in run.graph.get_operations() if op.type == "DmtProdForce"]
    assert len(prod) == 1 and prod[0].name.startswith("heads/pol/")
    with run.graph.as_default():
        atomic = run.graph.get_tensor_by_name(keys.head_node("pol", keys.O_POLAR) + ":0")
        per_atom = tf.reshape(atomic, [tf.shape(atomic)[0], -1, 9])
        natoms = run.ph[keys.T_NATOMS]
        reference = [model.descriptor.prod_force_virial(per_atom[:, :, c], natoms)
                     for c in range(9)]
    coord, box, atype = random_system(rng, (3, 5), nframes=2)
    out = run.out["pol"]
    got, ref = run.run(((out["force"], out["virial"], out["atom_virial"]), reference),
                       coord, box, atype)
    for index, value in enumerate(got):
        expected = np.concatenate([comp[index] for comp in ref], axis=1)
        assert value.shape == expected.shape and np.abs(value).max() > 0
        np.testing.assert_array_equal(value, expected)


def test_energy_only_model_has_no_rotation_matrix():
    model = build_model(model_config(), {"a": dict(ENER), "b": dict(ENER)}, TYPE_MAP)
    run = ModelRunner(model)
    assert "o_rot_mat" not in {op.name for op in run.graph.get_operations()}


def test_layer_name_shares_variables_between_heads(rng):
    heads = {"a": dict(ENER, layer_name=["l0", None, None]),
             "b": dict(ENER, layer_name=["l0", None, None], seed=99)}
    run = ModelRunner(build_model(model_config(), heads, TYPE_MAP))
    names = [v.op.name for v in run.graph.get_collection("trainable_variables")]
    assert names.count("shared_fitting/l0_type_0/matrix") == 1
    assert not any(n.startswith(("heads/a/layer_0", "heads/b/layer_0")) for n in names)
    assert "heads/a/layer_1_type_0/matrix" in names and "heads/b/layer_1_type_0/matrix" in names
    grads = get_tf().gradients(run.out["b"]["energy"], [
        v for v in run.graph.get_collection("trainable_variables")
        if v.op.name == "shared_fitting/l0_type_1/matrix"])
    assert grads[0] is not None  # head b really uses the shared layer


def test_compute_stats_pools_descriptor_and_keeps_heads_apart(rng):
    model = build_model(model_config(), {"a": dict(ENER), "b": dict(ENER)}, TYPE_MAP)
    c1, b1, t1 = random_system(rng, (2, 4), nframes=2)
    c2, b2, t2 = random_system(rng, (3, 3), nframes=1)
    batch_a = make_batch(c1, b1, t1, energy=np.array([[-10.0], [-12.0]]))
    batch_b = make_batch(c2, b2, t2, energy=np.array([[30.0]]))
    model.compute_stats({"a": [batch_a], "b": [batch_b]})
    ref = build_model(model_config(), {"a": dict(ENER)}, TYPE_MAP).descriptor
    ref.compute_input_stats([batch_a, batch_b])
    np.testing.assert_array_equal(model.descriptor.davg, ref.davg)
    np.testing.assert_array_equal(model.descriptor.dstd, ref.dstd)
    counts = np.array([2.0, 4.0])  # one system: minimum-norm solution
    np.testing.assert_allclose(model.fittings["a"].bias_atom_e, -11.0 * counts / counts.dot(counts))
    np.testing.assert_allclose(model.fittings["b"].bias_atom_e, [5.0, 5.0])
    run = ModelRunner(model)  # statistics are the initial values of the variables
    np.testing.assert_array_equal(run.var("descrpt_attr/t_avg"), model.descriptor.davg)
    np.testing.assert_array_equal(run.var("heads/b/fitting_attr/t_bias_atom_e"),
                                  model.fittings["b"].bias_atom_e)


def test_polar_shift_statistics_by_type_id(rng):
    model = build_model(model_config(), {"p": dict(POLAR, sel_type=[1])}, TYPE_MAP)
    coord, box, atype = random_system(rng, (2, 3), nframes=2)
    atomic = np.tile((2.0 * np.eye(3)).reshape(1, 9), (2, 3))  # 3 H atoms, alpha = 2 I
    model.compute_stats({"p": [make_batch(coord, box, atype, atomic_polarizability=atomic)]})
    np.testing.assert_allclose(model.fittings["p"].constant_matrix, [0.0, 2.0], atol=1e-12)


def test_build_errors():
    with pytest.raises(ConfigError, match="head 'dip'.*rotation matrix"):
        build_model(model_config(type="se_e2_r"), {"e": dict(ENER), "dip": dict(DIPOLE)},
                    TYPE_MAP)
    with pytest.raises(ConfigError, match="invalid head name '1st'"):
        build_model(model_config(), {"1st": dict(ENER)}, TYPE_MAP)
    with pytest.raises(ConfigError, match="differ only by case"):
        build_model(model_config(), {"Water": dict(ENER), "water": dict(ENER)}, TYPE_MAP)
    with pytest.raises(ConfigError, match="model/descriptor/type.*se_e3x"):
        build_model(model_config(type="se_e3x"), {"e": dict(ENER)}, TYPE_MAP)
    with pytest.raises(ConfigError, match="fitting_net_dict/e/type"):
        build_model(model_config(), {"e": dict(ENER, type="dos")}, TYPE_MAP)
    with pytest.raises(ConfigError, match="type_embedding"):
        build_model(dict(model_config(), type_embedding={"neuron": [8]}), {"e": dict(ENER)},
                    TYPE_MAP)
    model = build_model(model_config(), {"e": dict(ENER)}, TYPE_MAP)
    with pytest.raises(HeadError, match="unknown head 'x'"):
        model.data_requirements("x")


def _freeze(run, heads):
    tf = get_tf()
    nodes = [keys.ATTR_FORMAT, keys.ATTR_METADATA, keys.TYPE_MAP]
    for head in heads:
        nodes += [keys.head_node(head, n) for n in (keys.O_ENERGY, keys.O_FORCE)]
    return tf.graph_util.convert_variables_to_constants(
        run.sess, run.graph.as_graph_def(), nodes)


def test_init_from_frozen_reproduces_heads_and_reports_new_ones(rng):
    tf = get_tf()
    heads = {"a": dict(ENER), "b": dict(ENER, seed=5)}
    src = build_model(model_config(), heads, TYPE_MAP)
    coord, box, atype = random_system(rng, (3, 5))
    src.compute_stats({"a": [make_batch(coord, box, atype, energy=np.array([[-3.0]]))]})
    run_src = ModelRunner(src)
    with run_src.graph.as_default():  # make the variables differ from any fresh init
        for var in tf.global_variables():
            run_src.sess.run(var.assign(var + 0.01))
    frozen = _freeze(run_src, ["a", "b"])
    ref = run_src.run({h: run_src.out[h]["energy"] for h in heads}, coord, box, atype)

    heads_new = {"a": dict(ENER), "copy": dict(ENER), "new": dict(ENER)}
    dst = build_model(model_config(), heads_new, TYPE_MAP)
    info = dst.init_from_frozen(frozen, heads={"a": "a", "copy": "b"})
    assert info == {"heads": ["a", "copy"], "new_heads": ["new"]}
    run_dst = ModelRunner(dst)
    got = run_dst.run({h: run_dst.out[h]["energy"] for h in heads_new}, coord, box, atype)
    np.testing.assert_array_equal(got["a"], ref["a"])
    np.testing.assert_array_equal(got["copy"], ref["b"])
    assert "descrpt_attr/t_avg" in dst.frozen_initialized
    assert not any(n.startswith("heads/new/") for n in dst.frozen_initialized)
    np.testing.assert_array_equal(run_dst.var("descrpt_attr/t_std"),
                                  run_src.var("descrpt_attr/t_std"))


def test_init_from_frozen_errors(rng, tmp_path):
    model = build_model(model_config(), {"a": dict(ENER)}, TYPE_MAP)
    with pytest.raises(ModelFileError, match="does not exist"):
        model.init_from_frozen(str(tmp_path / "missing.pb"))
    bad = tmp_path / "bad.pb"
    bad.write_bytes(b"not a graph")
    with pytest.raises(ModelFileError, match="not a frozen"):
        model.init_from_frozen(str(bad))
    tf = get_tf()
    with tf.Graph().as_default() as g:
        tf.constant(1.0, name="x")
    with pytest.raises(ModelFileError, match="not a deepmt model"):
        model.init_from_frozen(g.as_graph_def())
    values = {keys.ATTR_FORMAT: np.array(b"multi_head_v1"), keys.TYPE_MAP: np.array(b"H O")}
    with pytest.raises(ModelFileError, match="type_map"):
        model.init_from_frozen(values)
    with pytest.raises(HeadError, match="no head 'zz'"):
        model.init_from_frozen({keys.ATTR_FORMAT: np.array(b"x")}, heads={"a": "zz"})
    model.init_from_frozen({"descrpt_attr/t_avg": np.zeros((3, 5))})
    with pytest.raises(ModelFileError, match="t_avg"):
        ModelRunner(model)


@pytest.mark.parametrize("counts", [(0, 5), (4, 0)])
def test_frames_without_atoms_of_a_type(runner, rng, counts):
    coord, box, atype = random_system(rng, counts)
    out = runner.run({"e": runner.out["water"]["energy"], "f": runner.out["water"]["force"],
                      "d": runner.out["dip"]["dipole"], "df": runner.out["dip"]["force"],
                      "p": runner.out["pol"]["global_polar"]},
                     coord, box, atype, fparam=np.zeros(2))
    nat = sum(counts)
    assert out["f"].shape == (1, 3 * nat) and np.isfinite(out["e"]).all()
    assert out["d"].shape == (1, 3 * counts[0]) and out["df"].shape == (1, 9 * nat)
    if counts[1] == 0:  # no H atom: the H-only polar head predicts nothing
        assert np.all(out["p"] == 0.0)
    else:
        assert np.abs(out["p"]).max() > 0.0
