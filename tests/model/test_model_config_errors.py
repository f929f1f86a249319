"""Model-level config errors raised before any graph is built: layers shared
through ``layer_name`` that cannot be one set of variables, reserved head names."""

import pytest

from deepmt import keys
from deepmt.errors import ConfigError
from deepmt.model import build_model
from deepmt.utils.tf_compat import get_tf

from mt_helpers import ENER, TYPE_MAP, ModelRunner, model_config

SHARED0 = ["x", None, None]  # ENER has neuron [16, 16]: two hidden layers + output


def _heads(a: dict, b: dict) -> dict:
    return {"first": dict(ENER, **a), "second": dict(ENER, **b)}


@pytest.mark.parametrize("a, b, mismatch", [
    ({"layer_name": SHARED0}, {"layer_name": SHARED0, "neuron": [32, 32]},
     "output width 16 in 'first' but 32 in 'second'"),
    ({"layer_name": SHARED0}, {"layer_name": SHARED0, "numb_fparam": 2},
     "input width"),
    ({"layer_name": SHARED0}, {"layer_name": SHARED0, "activation_function": "relu"},
     "activation_function 'tanh' in 'first' but 'relu' in 'second'"),
    ({"layer_name": SHARED0}, {"layer_name": SHARED0, "precision": "float32"},
     "precision 'float64' in 'first' but 'float32' in 'second'"),
    ({"layer_name": [None, "x", None]}, {"layer_name": [None, "x", None], "resnet_dt": False},
     "resnet_dt timestep True in 'first' but False in 'second'"),
    ({"layer_name": SHARED0}, {"layer_name": SHARED0, "trainable": [False, True, True]},
     "trainable True in 'first' but False in 'second'"),
    ({"layer_name": [None, None, "x"]}, {"layer_name": SHARED0},
     "output width 1 in 'first' but 16 in 'second'"),
])
def test_mismatched_shared_layers_are_config_errors(a, b, mismatch):
    with pytest.raises(ConfigError) as info:
        build_model(model_config(), _heads(a, b), TYPE_MAP)
    msg = str(info.value)
    assert msg.startswith("model/fitting_net_dict/second/layer_name:")
    assert "heads 'first'" in msg and "'second'" in msg and "layer_name 'x'" in msg
    assert mismatch in msg


def test_the_check_precedes_the_tensorflow_error(monkeypatch):
    """Without the check TF fails late with a raw variable-sharing error."""
    from deepmt.model import model as model_module

    heads = _heads({"layer_name": SHARED0}, {"layer_name": SHARED0, "neuron": [32, 32]})
    monkeypatch.setattr(model_module, "check_shared_layers", lambda fittings: None)
    model = build_model(model_config(), heads, TYPE_MAP)
    with pytest.raises(ValueError, match="shared_fitting"):
        ModelRunner(model)


def test_a_head_tying_its_own_layers_names_itself_twice():
    heads = {"main": dict(ENER, neuron=[16, 8], layer_name=["t", "t", None])}
    with pytest.raises(ConfigError) as info:
        build_model(model_config(), heads, TYPE_MAP)
    msg = str(info.value)
    assert msg.startswith("model/fitting_net/layer_name:")
    assert "heads 'main' (layer 0) and 'main' (layer 1)" in msg


def test_agreeing_shared_layers_build_one_set_of_variables():
    # 'default' and 'float64' are the same precision; layers 1 and 2 of 'first'
    # tie to each other and to layer 1 of 'second'
    heads = _heads({"neuron": [16, 16, 16], "layer_name": [None, "x", "x", None]},
                   {"layer_name": [None, "x", None], "precision": "float64"})
    run = ModelRunner(build_model(model_config(), heads, TYPE_MAP))
    names = [v.op.name for v in run.graph.get_collection("trainable_variables")]
    assert names.count("shared_fitting/x_type_0/matrix") == 1
    grads = get_tf().gradients(run.out["first"]["energy"], [
        v for v in run.graph.get_collection("trainable_variables")
        if v.op.name == "shared_fitting/x_type_0/idt"])
    assert grads[0] is not None


@pytest.mark.parametrize("name", ["default", "DEFAULT", "Default"])
def test_default_is_not_a_head_name(name):
    assert not keys.is_valid_head_name(name)
    with pytest.raises(ConfigError) as info:
        build_model(model_config(), {"water": dict(ENER), name: dict(ENER)}, TYPE_MAP)
    msg = str(info.value)
    assert repr(name) in msg and keys.HEAD_NAME_RULE in msg
    assert "may not be 'default'" in msg


def test_inference_alias_is_the_reserved_name():
    from deepmt.infer.heads import DEFAULT_ALIAS

    assert DEFAULT_ALIAS == keys.DEFAULT_HEAD_ALIAS
    for name in ("defaults", "default_pbe", "my.default", "main", "a"):
        assert keys.is_valid_head_name(name)
    for name in (None, 3, "", "1st", "x" * 65):
        assert not keys.is_valid_head_name(name)
