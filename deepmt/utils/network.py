"""TF1 network builders shared by descriptors and fittings.

Everything here builds graph-mode ops through :func:`deepmt.utils.tf_compat.get_tf`;
importing this module does not import TensorFlow.

Variables are created with ``tf.get_variable`` inside the caller's variable
scope, so their names (and the names of the constants they become in a frozen
model) are fixed by the scope layout chosen by the caller:

* embedding nets: ``matrix_{l}{suffix}``, ``bias_{l}{suffix}``,
  ``idt_{l}{suffix}`` with ``l = 1..L`` in the current scope;
* dense (fitting) layers: ``<scope>/matrix``, ``<scope>/bias``, ``<scope>/idt``.

Random initialisation is reproducible: a component's ``seed`` is combined with
the full variable name (:func:`derive_seed`), so a variable's initial value does
not depend on how many other variables were created before it.
"""

from __future__ import annotations

import contextlib
import math
import zlib
from typing import Callable, Dict, Iterator, List, Optional, Sequence

import numpy as np

from deepmt.errors import ConfigError, ModelFileError
from deepmt.utils.tf_compat import get_tf

#: accepted ``activation_function`` values (``"linear"``/``"none"`` = identity)
ACTIVATION_NAMES = ("tanh", "relu", "relu6", "softplus", "sigmoid", "gelu", "gelu_tf",
                    "linear", "none", "None")
#: accepted ``precision`` values
PRECISION_NAMES = ("default", "float64", "float32", "float16", "bfloat16")


def check_choice(value, choices: Sequence[str], path: str) -> str:
    """Return ``value`` if it is one of ``choices``, else raise :class:`ConfigError`."""
    if value not in choices:
        raise ConfigError(
            f"{path}: invalid value {value!r}; expected one of {', '.join(map(str, choices))}."
        )
    return value


def _gelu(x):
    tf = get_tf()
    coef = math.sqrt(2.0 / math.pi)
    return 0.5 * x * (1.0 + tf.tanh(coef * (x + 0.044715 * x * x * x)))


def get_activation(name: str) -> Callable:
    """Activation function by its ``activation_function`` name.

    ``gelu`` and ``gelu_tf`` are both the tanh approximation
    ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``; ``linear``/``none``
    is the identity. Unknown names raise :class:`ConfigError`.
    """
    tf = get_tf()
    table = {
        "tanh": tf.tanh,
        "relu": tf.nn.relu,
        "relu6": tf.nn.relu6,
        "softplus": tf.nn.softplus,
        "sigmoid": tf.sigmoid,
        "gelu": _gelu,
        "gelu_tf": _gelu,
        "linear": tf.identity,
        "none": tf.identity,
        "None": tf.identity,
    }
    if name not in table:
        raise ConfigError(
            f"activation_function: unknown activation {name!r}; "
            f"expected one of {', '.join(ACTIVATION_NAMES)}."
        )
    return table[name]


def get_precision(name: str):
    """TF dtype of a ``precision`` key value (``"default"`` is float64)."""
    from deepmt.utils.tf_compat import precision_dtype

    check_choice(name, PRECISION_NAMES, "precision")
    return precision_dtype(name)


def derive_seed(seed: Optional[int], name: str) -> Optional[int]:
    """Per-variable seed: ``None`` stays ``None`` (random), else a stable hash.

    Parameters
    ----------
    seed
        The component's ``seed`` key.
    name
        Full variable name (scope included).
    """
    if seed is None:
        return None
    return (int(seed) * 1000003 + zlib.crc32(name.encode())) % (2**31 - 1)


def _normal(shape, dtype, *, stddev: float, mean: float, seed, name: str, trainable: bool):
    """``tf.get_variable`` with a normal initializer and a name-derived seed."""
    tf = get_tf()
    scope = tf.get_variable_scope().name
    full = f"{scope}/{name}" if scope else name
    init = tf.random_normal_initializer(
        mean=mean, stddev=stddev, seed=derive_seed(seed, full), dtype=dtype
    )
    return tf.get_variable(name, shape, dtype=dtype, initializer=init, trainable=trainable)


def embedding_net(x, neuron: Sequence[int], *, precision, activation: str = "tanh",
                  resnet_dt: bool = False, name_suffix: str = "", seed: Optional[int] = None,
                  trainable: bool = True):
    """Embedding net with the always-on skip connections of DeePMD-kit.

    For layer ``l = 1..L``: ``h = act(x W_l + b_l)``; if the width is unchanged
    ``x <- x + h``, if it doubles ``x <- [x, x] + h`` (concatenation), else
    ``x <- h``. With ``resnet_dt`` the residual ``h`` is scaled by a trainable
    per-feature ``idt_l`` (initialised around 1); a layer without skip has no
    ``idt_l``.

    Parameters
    ----------
    x
        Input, ``n x n_in`` in ``precision``.
    neuron
        Layer widths ``[n_1, ..., n_L]``.
    precision
        TF dtype of the variables.
    activation, resnet_dt, seed, trainable
        The descriptor keys of the same names.
    name_suffix
        Appended to every variable name (e.g. ``"_1"`` for neighbour type 1).

    Returns
    -------
    Tensor ``n x n_L``.
    """
    tf = get_tf()
    act = get_activation(activation)
    n_in = int(x.shape[-1])
    for layer, n_out in enumerate(neuron, start=1):
        std = 1.0 / math.sqrt(n_in + n_out)
        w = _normal([n_in, n_out], precision, stddev=std, mean=0.0, seed=seed,
                    name=f"matrix_{layer}{name_suffix}", trainable=trainable)
        b = _normal([n_out], precision, stddev=1.0, mean=0.0, seed=seed,
                    name=f"bias_{layer}{name_suffix}", trainable=trainable)
        h = act(tf.matmul(x, w) + b)
        skip = n_out in (n_in, 2 * n_in)
        if resnet_dt and skip:  # the timestep only scales a skip connection
            idt = _normal([1, n_out], precision, stddev=0.001, mean=1.0, seed=seed,
                          name=f"idt_{layer}{name_suffix}", trainable=trainable)
            h = h * idt
        if n_out == n_in:
            x = x + h
        elif n_out == 2 * n_in:
            x = tf.concat([x, x], axis=1) + h
        else:
            x = h
        n_in = n_out
    return x


def dense_layer(x, n_out: int, *, scope: str, precision, activation: Optional[str],
                seed: Optional[int] = None, trainable: bool = True, use_timestep: bool = False,
                idt_mean: float = 0.1):
    """One dense layer ``act(x W + b)`` (times ``idt`` if ``use_timestep``).

    Variables ``matrix``, ``bias`` (and ``idt``) live in variable scope
    ``scope`` (relative to the current one), created with ``AUTO_REUSE`` so a
    second call with the same scope shares them.

    Parameters
    ----------
    x
        ``n x n_in`` input in ``precision``.
    n_out
        Output width.
    activation
        Activation name; ``None`` for a linear (output) layer.

    Returns
    -------
    Tensor ``n x n_out``.
    """
    tf = get_tf()
    n_in = int(x.shape[-1])
    with tf.variable_scope(scope, reuse=tf.AUTO_REUSE):
        w = _normal([n_in, n_out], precision, stddev=1.0 / math.sqrt(n_in + n_out), mean=0.0,
                    seed=seed, name="matrix", trainable=trainable)
        b = _normal([n_out], precision, stddev=1.0, mean=0.0, seed=seed, name="bias",
                    trainable=trainable)
        y = tf.matmul(x, w) + b
        if activation is not None:
            y = get_activation(activation)(y)
        if use_timestep:
            idt = _normal([n_out], precision, stddev=0.001, mean=idt_mean, seed=seed,
                          name="idt", trainable=trainable)
            y = y * idt
    return y


@contextlib.contextmanager
def root_variable_scope(name: str, reuse=None) -> Iterator:
    """Enter variable scope ``name`` at the ROOT of the variable-scope tree.

    Used for variables shared between heads (``shared_fitting/...``) while the
    caller sits inside ``heads/<head>/``. The op name scope is left unchanged
    (ops stay under the head); custom getters of the enclosing scope (such as
    :func:`initial_value_getter`) still apply.
    """
    tf = get_tf()
    current = tf.get_variable_scope()
    root = tf.VariableScope(reuse, name="", custom_getter=current.custom_getter)
    with tf.variable_scope(root, auxiliary_name_scope=False):
        with tf.variable_scope(name, reuse=reuse, auxiliary_name_scope=False) as scope:
            yield scope


def non_trainable_variable(name: str, value: np.ndarray, dtype):
    """A non-trainable variable initialised from a NumPy array (statistics)."""
    tf = get_tf()
    value = np.asarray(value)
    return tf.get_variable(
        name, shape=list(value.shape), dtype=dtype, trainable=False,
        initializer=tf.constant_initializer(value),
    )


def initial_value_getter(values: Dict[str, np.ndarray], used: Optional[List[str]] = None):
    """Custom getter replacing the initial value of variables found in ``values``.

    Parameters
    ----------
    values
        Full variable name (no ``:0``) -> array, e.g. the constants of a frozen
        model (a frozen model's constants carry the names of the variables
        they were made from).
    used
        If given, names whose initial value was replaced are appended to it.

    Raises
    ------
    ModelFileError
        A value's shape differs from the variable's.
    """
    tf = get_tf()

    # TF calls a custom getter with keyword arguments, the next getter as ``getter``
    def custom_getter(getter, name, *args, **kwargs):
        if name not in values:
            return getter(name, *args, **kwargs)
        value = np.asarray(values[name])
        shape = kwargs.get("shape")
        if shape is not None and list(shape) != list(value.shape):
            raise ModelFileError(
                f"cannot initialise variable {name!r} from the frozen model: its shape there is "
                f"{list(value.shape)} but the new model needs {list(shape)} (was the "
                f"architecture, sel or type_map changed?)."
            )
        dtype = kwargs.get("dtype")
        if dtype is not None:
            value = value.astype(tf.as_dtype(dtype).as_numpy_dtype)
        kwargs["shape"] = list(value.shape)
        kwargs["initializer"] = tf.constant_initializer(value)
        if used is not None and name not in used:
            used.append(name)
        return getter(name, *args, **kwargs)

    return custom_getter
