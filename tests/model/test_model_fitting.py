"""Fitting nets on a fed descriptor, against NumPy (no environment op needed)."""

import numpy as np
import pytest

from deepmt import keys
from deepmt.descriptor import DescrptSeA, DescrptSeR
from deepmt.errors import ConfigError
from deepmt.fitting import DipoleFitting, EnerFitting, PolarFitting
from deepmt.utils.tf_compat import get_tf

from mt_helpers import fitting_layers, np_fitting

NTYPES = 2
COUNTS = (3, 4)
NLOC = sum(COUNTS)
NF = 2
DESC = DescrptSeA(NTYPES, sel=[8, 8], rcut=4.0, neuron=[4, 8], axis_neuron=2)
M1 = 8


class FitRunner:
    """Builds fittings under ``heads/<head>/`` on fed descriptor/rot-mat inputs."""

    def __init__(self, fittings, use_rot=False, dtype_desc=np.float64):
        tf = get_tf()
        self.graph = tf.Graph()
        with self.graph.as_default():
            self.desc = tf.placeholder(tf.float64, [None, DESC.get_dim_out()])
            self.rot = tf.placeholder(tf.float64, [None, 3 * M1])
            self.natoms = tf.constant([NLOC, NLOC, *COUNTS], dtype=tf.int32)
            self.fparam = tf.placeholder(tf.float64, [None])
            self.aparam = tf.placeholder(tf.float64, [None])
            self.out = {}
            for fit in fittings:
                scope = keys.head_scope(fit.head)
                with tf.variable_scope(scope, auxiliary_name_scope=False), \
                        tf.name_scope(scope + "/"):
                    self.out[fit.head] = fit.build(
                        self.desc, self.natoms, self.rot if use_rot else None,
                        self.fparam if fit.get_dim_fparam() else None,
                        self.aparam if fit.get_dim_aparam() else None)
            self.sess = tf.Session()
            self.sess.run(tf.global_variables_initializer())

    def run(self, desc, rot=None, fparam=None, aparam=None):
        feed = {self.desc: desc}
        if rot is not None:
            feed[self.rot] = rot
        if fparam is not None:
            feed[self.fparam] = fparam.reshape(-1)
        if aparam is not None:
            feed[self.aparam] = aparam.reshape(-1)
        return self.sess.run(self.out, feed)

    def var(self, name):
        return self.sess.run(self.graph.get_tensor_by_name(name + ":0"))


def _types():
    return np.concatenate([np.full(n, t) for t, n in enumerate(COUNTS)])


def test_ener_fitting_matches_numpy_with_params(rng):
    fit = EnerFitting(DESC, NTYPES, "w", neuron=[8, 8], numb_fparam=2, numb_aparam=1, seed=3)
    fit.bias_atom_e = np.array([1.5, -2.0])
    fit.fparam_avg, fit.fparam_istd = np.array([0.5, -1.0]), np.array([2.0, 0.25])
    fit.aparam_avg, fit.aparam_istd = np.array([0.1]), np.array([3.0])
    run = FitRunner([fit])
    desc = rng.normal(size=(NF * NLOC, DESC.get_dim_out()))
    fparam = rng.normal(size=(NF, 2))
    aparam = rng.normal(size=(NF, NLOC, 1))
    got = run.run(desc, fparam=fparam, aparam=aparam)["w"]
    assert got.shape == (NF, NLOC) and got.dtype == np.float64
    types = _types()
    ref = np.zeros((NF, NLOC))
    for f in range(NF):
        for i in range(NLOC):
            t = types[i]
            inp = np.concatenate([desc[f * NLOC + i], (fparam[f] - fit.fparam_avg) *
                                  fit.fparam_istd, (aparam[f, i] - fit.aparam_avg) *
                                  fit.aparam_istd])[None]
            ref[f, i] = np_fitting(inp, fitting_layers(run, "w", t, 3))[0, 0] + fit.bias_atom_e[t]
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(run.var("heads/w/fitting_attr/t_bias_atom_e"), [1.5, -2.0])
    assert fit.data_requirements()[0].key == "fparam"


def test_atom_ener_gives_exact_energy_at_zero_descriptor(rng):
    fit = EnerFitting(DESC, NTYPES, "w", neuron=[8], atom_ener=[None, 3.25], seed=4)
    run = FitRunner([fit])
    desc = rng.normal(size=(NF * NLOC, DESC.get_dim_out()))
    desc.reshape(NF, NLOC, -1)[:, COUNTS[0]:] = 0.0  # every type-1 atom "isolated"
    got = run.run(desc)["w"]
    assert np.all(got[:, COUNTS[0]:] == 3.25)
    assert np.all(got[:, :COUNTS[0]] != 0.0)
    np.testing.assert_array_equal(run.var("heads/w/fitting_attr/t_bias_atom_e"), [0.0, 3.25])


def test_dipole_is_coefficients_times_rotation_matrix(rng):
    fit = DipoleFitting(DESC, NTYPES, "d", neuron=[8, 8], sel_type=[1], seed=5)
    run = FitRunner([fit], use_rot=True)
    desc = rng.normal(size=(NF * NLOC, DESC.get_dim_out()))
    rot = rng.normal(size=(NF * NLOC, 3 * M1))
    got = run.run(desc, rot)["d"]
    assert got.shape == (NF, COUNTS[1] * 3)
    sel = np.arange(NLOC).reshape(1, -1).repeat(NF, 0)[:, COUNTS[0]:]
    for f in range(NF):
        for k, i in enumerate(sel[f]):
            a = np_fitting(desc[f * NLOC + i][None], fitting_layers(run, "d", 1, 3))[0]
            ref = a @ rot[f * NLOC + i].reshape(M1, 3)
            np.testing.assert_allclose(got[f, 3 * k:3 * k + 3], ref, rtol=1e-12, atol=1e-13)
    assert fit.metadata() == {"type": "dipole", "sel_type": [1], "output_dim": 3,
                              "dim_fparam": 0, "dim_aparam": 0}


@pytest.mark.parametrize("fit_diag", [True, False])
def test_polar_scale_and_shift_indexed_by_type_id(rng, fit_diag):
    fit = PolarFitting(DESC, NTYPES, "p", neuron=[8], sel_type=[1], fit_diag=fit_diag,
                       scale=[1.0, 2.5], seed=6)
    fit.constant_matrix = np.array([0.3, 0.7])
    run = FitRunner([fit], use_rot=True)
    desc = rng.normal(size=(NF * NLOC, DESC.get_dim_out()))
    rot = rng.normal(size=(NF * NLOC, 3 * M1))
    got = run.run(desc, rot)["p"].reshape(NF, COUNTS[1], 3, 3)
    layers = fitting_layers(run, "p", 1, 2)
    for f in range(NF):
        for k in range(COUNTS[1]):
            row = f * NLOC + COUNTS[0] + k
            a = np_fitting(desc[row][None], layers)[0]
            q = rot[row].reshape(M1, 3)
            b = np.diag(a) if fit_diag else a.reshape(M1, M1) + a.reshape(M1, M1).T
            ref = 2.5 * q.T @ b @ q + 0.7 * np.eye(3)
            np.testing.assert_allclose(got[f, k], ref, rtol=1e-11, atol=1e-12)
            np.testing.assert_allclose(got[f, k], got[f, k].T, atol=1e-12)


def test_float32_fitting_returns_float64_close_to_float64(rng):
    fits = [EnerFitting(DESC, NTYPES, "a", neuron=[8, 8], seed=7),
            EnerFitting(DESC, NTYPES, "b", neuron=[8, 8], seed=7, precision="float32")]
    run = FitRunner(fits)
    tf = get_tf()
    with run.graph.as_default():  # give head b head a's weights, rounded to float32
        for var in tf.global_variables():
            if var.op.name.startswith("heads/b/"):
                src = run.graph.get_tensor_by_name(var.name.replace("heads/b/", "heads/a/"))
                run.sess.run(var.assign(tf.cast(src, var.dtype.base_dtype)))
    out = run.run(rng.normal(size=(NF * NLOC, DESC.get_dim_out())))
    assert out["b"].dtype == np.float64
    assert run.var("heads/b/layer_0_type_0/matrix").dtype == np.float32
    np.testing.assert_allclose(out["a"], out["b"], rtol=1e-5, atol=1e-5)
    assert not np.array_equal(out["a"], out["b"])


def test_layer_name_shares_layers_but_not_bias(rng):
    names = ["l0", None, "out"]
    fits = [EnerFitting(DESC, NTYPES, h, neuron=[8, 8], layer_name=names, seed=s)
            for h, s in (("h1", 1), ("h2", 2))]
    fits[0].bias_atom_e = np.array([1.0, 2.0])
    fits[1].bias_atom_e = np.array([-5.0, 7.0])
    run = FitRunner(fits)
    with run.graph.as_default():
        names = {v.op.name for v in get_tf().global_variables()}
    for t in range(NTYPES):
        assert f"shared_fitting/l0_type_{t}/matrix" in names
        assert f"shared_fitting/out_type_{t}/matrix" in names
        assert f"heads/h1/layer_1_type_{t}/matrix" in names
        assert f"heads/h2/layer_1_type_{t}/matrix" in names
    assert not any(n.startswith("heads/h1/layer_0") or n.startswith("heads/h2/final")
                   for n in names)
    assert "heads/h1/fitting_attr/t_bias_atom_e" in names
    assert "heads/h2/fitting_attr/t_bias_atom_e" in names
    # setting head 2's private middle layer to head 1's makes the outputs differ
    # exactly by the bias difference
    with run.graph.as_default():
        tf = get_tf()
        for t in range(NTYPES):
            for part in ("matrix", "bias", "idt"):
                src = run.graph.get_tensor_by_name(f"heads/h1/layer_1_type_{t}/{part}:0")
                dst = [v for v in tf.global_variables()
                       if v.op.name == f"heads/h2/layer_1_type_{t}/{part}"][0]
                run.sess.run(dst.assign(src))
    out = run.run(rng.normal(size=(NF * NLOC, DESC.get_dim_out())))
    diff = out["h2"] - out["h1"]
    np.testing.assert_allclose(diff[:, :COUNTS[0]], -6.0, atol=1e-12)
    np.testing.assert_allclose(diff[:, COUNTS[0]:], 5.0, atol=1e-12)


def test_trainable_per_layer():
    fit = EnerFitting(DESC, NTYPES, "w", neuron=[8, 8], trainable=[True, False, False])
    run = FitRunner([fit])
    with run.graph.as_default():
        names = {v.op.name for v in get_tf().trainable_variables()}
    assert "heads/w/layer_0_type_0/matrix" in names
    assert "heads/w/layer_1_type_0/matrix" not in names
    assert "heads/w/final_layer_type_1/bias" not in names


@pytest.mark.parametrize("cls, config, match", [
    (EnerFitting, {"trainable": [True]}, "trainable"),
    (EnerFitting, {"layer_name": ["a"]}, "layer_name"),
    (EnerFitting, {"atom_ener": [1.0, 2.0, 3.0]}, "atom_ener"),
    (EnerFitting, {"use_aparam_as_mask": True}, "use_aparam_as_mask"),
    (EnerFitting, {"numb_fparam": -1}, "numb_fparam"),
    (EnerFitting, {"neurons": [3]}, "neurons"),
    (EnerFitting, {"activation_function": "swish"}, "activation_function"),
    (DipoleFitting, {"sel_type": [2]}, "sel_type"),
    (PolarFitting, {"scale": [1.0, 2.0, 3.0]}, "scale"),
    (PolarFitting, {"precision": "float8"}, "precision"),
])
def test_fitting_config_errors_name_the_key(cls, config, match):
    with pytest.raises(ConfigError, match=f"fitting_net_dict/x/{match}"):
        cls(DESC, NTYPES, "x", **config)


def test_tensor_fitting_needs_rotation_matrix():
    desc_r = DescrptSeR(NTYPES, sel=[8, 8], rcut=4.0, neuron=[4, 8])
    with pytest.raises(ConfigError, match="head 'dip'.*se_e2_r"):
        DipoleFitting(desc_r, NTYPES, "dip")
    EnerFitting(desc_r, NTYPES, "e")  # energy heads are fine on se_e2_r
