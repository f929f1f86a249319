"""deepmt.utils.network: embedding/dense builders against NumPy, seeds, scopes."""

import numpy as np
import pytest

from deepmt.errors import ConfigError, ModelFileError
from deepmt.utils import network
from deepmt.utils.tf_compat import get_tf

from mt_helpers import np_embedding


def _run(build, feed_value, **kwargs):
    """Build in a fresh graph, initialise, return (output, {var name: value})."""
    tf = get_tf()
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float64, [None, feed_value.shape[1]])
        y = build(x, **kwargs)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            out = sess.run(y, {x: feed_value})
            values = {v.op.name: sess.run(v) for v in tf.global_variables()}
    return out, values


@pytest.mark.parametrize("resnet_dt", [False, True])
def test_embedding_net_matches_numpy_with_skips(rng, resnet_dt):
    # 1 -> 2 (doubling: concat skip), 2 -> 2 (residual), 2 -> 5 (no skip)
    neuron = [2, 2, 5]
    tf = get_tf()
    x = rng.normal(size=(7, 1))

    def build(inp):
        with tf.variable_scope("filter_type_1"):
            return network.embedding_net(inp, neuron, precision=tf.float64,
                                         resnet_dt=resnet_dt, name_suffix="_0", seed=3)

    out, values = _run(build, x)
    layers = []
    for layer in (1, 2, 3):
        idt = values.get(f"filter_type_1/idt_{layer}_0")
        # the timestep exists only on the two layers with a skip connection
        assert (idt is not None) == (resnet_dt and layer < 3)
        layers.append((values[f"filter_type_1/matrix_{layer}_0"],
                       values[f"filter_type_1/bias_{layer}_0"], idt))
    np.testing.assert_allclose(out, np_embedding(x, layers), rtol=1e-12, atol=1e-12)
    # the concat skip really happened: dropping it changes the result
    no_skip = np.tanh(x @ layers[0][0] + layers[0][1])
    assert not np.allclose(np_embedding(x, layers[:1]), no_skip)


def test_dense_layer_and_timestep(rng):
    tf = get_tf()
    x = rng.normal(size=(4, 3))

    def build(inp):
        return network.dense_layer(inp, 2, scope="layer_0_type_0", precision=tf.float64,
                                   activation="tanh", seed=1, use_timestep=True)

    out, values = _run(build, x)
    w, b, idt = (values[f"layer_0_type_0/{n}"] for n in ("matrix", "bias", "idt"))
    np.testing.assert_allclose(out, np.tanh(x @ w + b) * idt, rtol=1e-13)
    assert abs(idt.mean() - 0.1) < 0.01  # residual timestep starts near 0.1


def test_seeds_reproducible_and_name_dependent(rng):
    tf = get_tf()
    x = rng.normal(size=(2, 1))

    def build(inp, seed):
        with tf.variable_scope("a"):
            y1 = network.embedding_net(inp, [3], precision=tf.float64, seed=seed)
        with tf.variable_scope("b"):
            return y1 + network.embedding_net(inp, [3], precision=tf.float64, seed=seed)

    _, first = _run(build, x, seed=5)
    _, again = _run(build, x, seed=5)
    _, other = _run(build, x, seed=6)
    for name in first:
        np.testing.assert_array_equal(first[name], again[name])
        assert not np.array_equal(first[name], other[name])
    assert not np.array_equal(first["a/matrix_1"], first["b/matrix_1"])


def test_gelu_and_activation_errors():
    tf = get_tf()
    x = np.linspace(-3, 3, 13)
    with tf.Graph().as_default(), tf.Session() as sess:
        got = sess.run(network.get_activation("gelu")(tf.constant(x)))
    ref = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))
    np.testing.assert_allclose(got, ref, rtol=1e-13)
    with pytest.raises(ConfigError, match="activation"):
        network.get_activation("swish")
    with pytest.raises(ConfigError, match="precision"):
        network.get_precision("float128")


def test_root_scope_shares_across_heads_and_getter_applies():
    tf = get_tf()
    values = {"shared_fitting/x_type_0/matrix": np.full((2, 3), 7.0)}
    used = []
    with tf.Graph().as_default():
        getter = network.initial_value_getter(values, used)
        with tf.variable_scope(tf.get_variable_scope(), custom_getter=getter,
                               auxiliary_name_scope=False):
            outs = []
            for head in ("h1", "h2"):
                with tf.variable_scope(f"heads/{head}"):
                    with network.root_variable_scope("shared_fitting", reuse=tf.AUTO_REUSE):
                        y = network.dense_layer(tf.ones([1, 2], tf.float64), 3,
                                                scope="x_type_0", precision=tf.float64,
                                                activation=None)
                    outs.append(y)
        names = sorted(v.op.name for v in tf.global_variables())
        assert names == ["shared_fitting/x_type_0/bias", "shared_fitting/x_type_0/matrix"]
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            matrix = [v for v in tf.global_variables() if v.op.name.endswith("matrix")][0]
            np.testing.assert_array_equal(sess.run(matrix),
                                          values["shared_fitting/x_type_0/matrix"])
            a, b = sess.run(outs)
        np.testing.assert_array_equal(a, b)
    assert used == ["shared_fitting/x_type_0/matrix"]


def test_initial_value_getter_shape_mismatch():
    tf = get_tf()
    getter = network.initial_value_getter({"v": np.zeros(3)})
    with tf.Graph().as_default():
        with tf.variable_scope("", custom_getter=getter):
            with pytest.raises(ModelFileError, match="'v'.*\\[3\\].*\\[4\\]"):
                tf.get_variable("v", [4], tf.float64)


def test_derive_seed():
    assert network.derive_seed(None, "a") is None
    assert network.derive_seed(1, "a") == network.derive_seed(1, "a")
    assert network.derive_seed(1, "a") != network.derive_seed(1, "b")
    assert network.derive_seed(1, "a") != network.derive_seed(2, "a")
