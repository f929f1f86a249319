"""Normalisation of valid inputs: comments, aliases, defaults, RunSpec."""

from __future__ import annotations

import copy
import dataclasses
import json

import pytest

from deepmt.keys import SINGLE_TASK_HEAD
from deepmt.train.config import make_run_spec, normalize


def _keys_anywhere(value) -> set:
    """Every dict key at every level of ``value``."""
    if isinstance(value, dict):
        return set(value).union(*(_keys_anywhere(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_keys_anywhere(v) for v in value))
    return set()


def test_single_example_is_accepted_and_completed(single, reg):
    raw = copy.deepcopy(single)
    out = normalize(single, registries=reg)
    assert single == raw, "the caller's dict must not be modified"
    assert "_comment" in _keys_anywhere(raw)
    assert not any(k.startswith("_") for k in _keys_anywhere(out))
    # user values kept
    assert out["model"]["descriptor"]["sel"] == [46, 92]
    assert out["learning_rate"]["stop_lr"] == 3.51e-8
    assert out["training"]["validation_data"]["numb_btch"] == 3
    # defaults filled, at every level
    training = out["training"]
    assert training["save_ckpt"] == "model.ckpt"
    assert training["max_ckpt_keep"] == 5
    assert training["disp_training"] is True and training["time_training"] is True
    assert training["tensorboard"] is False and training["tensorboard_log_dir"] == "log"
    assert training["tensorboard_freq"] == 1 and training["profiling"] is False
    assert training["training_data"]["set_prefix"] == "set"
    assert training["training_data"]["auto_prob"] == "prob_sys_size"
    assert training["training_data"]["sys_probs"] is None
    assert "numb_btch" not in training["training_data"]
    assert out["model"]["data_stat_nbatch"] == 10
    assert out["model"]["data_stat_protect"] == pytest.approx(1e-2)
    assert out["model"]["fitting_net"]["type"] == "ener"  # variant default
    assert out["model"]["fitting_net"]["numb_fparam"] == 0  # component default


def test_normalize_is_idempotent(single, multi, reg):
    for raw in (single, multi):
        once = normalize(raw, registries=reg)
        assert normalize(once, registries=reg) == once
        json.dumps(once)  # plain JSON data: it is stored in the frozen model


def test_minimal_input_gets_every_default(reg):
    raw = {"model": {"descriptor": {"type": "se_e2_a"}, "fitting_net": {}},
           "training": {"training_data": {"systems": "data"}, "numb_steps": 10}}
    out = normalize(raw, registries=reg)
    assert out["learning_rate"] == {"type": "exp", "start_lr": 1e-3, "stop_lr": 1e-8,
                                    "decay_steps": 5000}
    assert out["loss"]["type"] == "ener" and out["loss"]["start_pref_f"] == 1000.0
    assert out["training"]["seed"] is None
    assert out["training"]["disp_file"] == "lcurve.out"
    assert out["training"]["disp_freq"] == 1000 and out["training"]["save_freq"] == 1000
    assert out["training"]["validation_data"] is None
    assert out["training"]["training_data"]["batch_size"] == "auto"
    assert out["training"]["training_data"]["systems"] == "data"
    assert "type_map" not in out["model"]


def test_aliases_are_rewritten(single, reg):
    train = single["training"]
    train["stop_batch"] = train.pop("numb_steps")
    train["validation_data"]["numb_batch"] = train["validation_data"].pop("numb_btch")
    train["training_data"]["auto_prob_style"] = "prob_uniform"
    train["training_data"]["sys_weights"] = [1, 2, 1]
    single["model"]["descriptor"]["type"] = "se_a"
    single["model"]["descriptor"]["n_axis_neuron"] = single["model"]["descriptor"].pop(
        "axis_neuron")
    single["model"]["fitting_net"]["n_neuron"] = single["model"]["fitting_net"].pop("neuron")
    out = normalize(single, registries=reg)
    assert out["training"]["numb_steps"] == 1000000 and "stop_batch" not in out["training"]
    assert out["training"]["validation_data"]["numb_btch"] == 3
    assert out["training"]["training_data"]["auto_prob"] == "prob_uniform"
    assert out["training"]["training_data"]["sys_probs"] == [1.0, 2.0, 1.0]
    assert out["model"]["descriptor"]["type"] == "se_e2_a"
    assert out["model"]["descriptor"]["axis_neuron"] == 16
    assert out["model"]["fitting_net"]["neuron"] == [240, 240, 240]


def test_comments_are_stripped_at_every_level(single, reg):
    single["_note"] = {"anything": [1, 2]}
    single["model"]["descriptor"]["_x"] = "y"
    single["training"]["training_data"]["_comment2"] = 3
    single["training"]["_list"] = [{"_deep": 1}]
    out = normalize(single, registries=reg)
    assert not any(k.startswith("_") for k in _keys_anywhere(out))


def test_ints_become_floats_where_only_floats_are_allowed(single, reg):
    single["model"]["descriptor"]["rcut"] = 6
    out = normalize(single, registries=reg)
    assert isinstance(out["model"]["descriptor"]["rcut"], float)
    assert isinstance(out["model"]["descriptor"]["axis_neuron"], int)


def test_run_spec_single(single, reg):
    spec = make_run_spec(normalize(single, registries=reg))
    assert spec.multi_task is False
    assert spec.type_map == ["O", "H"]
    assert list(spec.heads) == [SINGLE_TASK_HEAD]
    head = spec.heads[SINGLE_TASK_HEAD]
    assert head.name == "main" and head.weight == 1.0
    assert head.fitting["neuron"] == [240, 240, 240]
    assert head.loss["type"] == "ener" and head.learning_rate["type"] == "exp"
    assert head.training_data["systems"][0] == "../data/data_0/"
    assert head.validation_data["numb_btch"] == 3
    assert "fitting_net" not in spec.model and spec.model["descriptor"]["type"] == "se_e2_a"
    assert spec.training["numb_steps"] == 1000000
    for key in ("training_data", "validation_data", "data_dict", "fitting_weight"):
        assert key not in spec.training
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.multi_task = True
    with pytest.raises(dataclasses.FrozenInstanceError):
        head.weight = 0.5


def test_run_spec_multi(multi, reg):
    normalized = normalize(multi, registries=reg)
    spec = make_run_spec(normalized)
    assert spec.multi_task is True and spec.type_map == ["O", "H"]
    assert list(spec.heads) == ["water_dipole", "water_ener"]
    dip, ener = spec.heads["water_dipole"], spec.heads["water_ener"]
    assert dip.fitting["type"] == "dipole" and dip.fitting["sel_type"] == [0]
    assert dip.loss == {"type": "tensor", "pref": 1.0, "pref_atomic": 1.0}
    assert ener.loss["type"] == "ener"
    assert dip.weight == pytest.approx(1 / 3) and ener.weight == pytest.approx(2 / 3)
    assert ener.training_data["systems"][0] == "../../water/data/data_0/"
    assert dip.validation_data["numb_btch"] == 3
    assert dip.learning_rate == ener.learning_rate == normalized["learning_rate"]
    assert "fitting_net_dict" not in spec.model
    # the spec is a copy: changing it leaves the normalized input alone
    dip.fitting["neuron"].append(1)
    assert normalized["model"]["fitting_net_dict"]["water_dipole"]["neuron"] == [100] * 3
