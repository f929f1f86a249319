"""Every schema error is a ConfigError naming the full key path."""

from __future__ import annotations

import copy

import pytest

from deepmt.errors import ConfigError
from deepmt.train.config import normalize


def _error(raw, reg) -> str:
    with pytest.raises(ConfigError) as info:
        normalize(raw, registries=reg)
    return str(info.value)


def test_misspelt_key_names_full_path_and_suggests(single, reg):
    single["model"]["descriptor"]["rcut_smht"] = single["model"]["descriptor"].pop("rcut_smth")
    msg = _error(single, reg)
    assert "`model/descriptor/rcut_smht`" in msg
    assert "Did you mean `rcut_smth`?" in msg


def test_misspelt_top_level_and_training_keys(single, reg):
    single["training"]["numb_step"] = single["training"].pop("numb_steps")
    msg = _error(single, reg)
    assert "`training/numb_step`" in msg and "`numb_steps`" in msg
    del single["training"]["numb_step"]
    single["training"]["numb_steps"] = 10
    single["learning_rates"] = {}
    msg = _error(single, reg)
    assert "`learning_rates`" in msg and "Did you mean `learning_rate`?" in msg


def test_wrong_type_names_key_expected_and_found(single, reg):
    single["training"]["disp_freq"] = "100"
    msg = _error(single, reg)
    assert "`training/disp_freq`" in msg
    assert "expected int" in msg and "found str '100'" in msg


def test_bool_is_not_a_number(single, reg):
    single["training"]["disp_freq"] = True
    msg = _error(single, reg)
    assert "`training/disp_freq`" in msg and "found bool True" in msg
    single["training"]["disp_freq"] = 10
    single["model"]["descriptor"]["neuron"] = [25, True]
    assert "`model/descriptor/neuron`" in _error(single, reg)


def test_number_as_text_gets_a_yaml_hint(single, reg):
    single["learning_rate"]["start_lr"] = "1e-3"
    msg = _error(single, reg)
    assert "`learning_rate/start_lr`" in msg and "YAML" in msg


def test_typed_list_elements_are_checked(single, reg):
    single["training"]["training_data"]["systems"] = ["a", 3]
    msg = _error(single, reg)
    assert "`training/training_data/systems`" in msg and "list[str]" in msg


def test_missing_required_key(single, reg):
    del single["training"]["numb_steps"]
    msg = _error(single, reg)
    assert "`training/numb_steps`" in msg and "required" in msg


def test_missing_sections(single, reg):
    del single["model"]["descriptor"]
    assert "`model/descriptor`" in _error(single, reg)
    assert "section `training`" in _error({"model": {"fitting_net": {}}}, reg)
    assert "section `model`" in _error({"training": {}}, reg)
    assert "found list" in _error([1], reg)


def test_section_of_wrong_type(single, reg):
    single["model"]["descriptor"] = [1, 2]
    msg = _error(single, reg)
    assert "`model/descriptor`" in msg and "expected dict" in msg


def test_unknown_descriptor_type_lists_choices(single, reg):
    single["model"]["descriptor"]["type"] = "se_e2_x"
    msg = _error(single, reg)
    assert "`model/descriptor/type`" in msg and "se_e2_a, se_e2_r" in msg
    assert "Did you mean" in msg
    single["model"]["descriptor"]["type"] = 3
    assert "`model/descriptor/type`" in _error(single, reg)
    del single["model"]["descriptor"]["type"]
    msg = _error(single, reg)
    assert "`model/descriptor/type`" in msg and "required" in msg


def test_alias_and_name_together_is_an_error(single, reg):
    single["training"]["stop_batch"] = 5
    msg = _error(single, reg)
    assert "`training/numb_steps`" in msg and "`training/stop_batch`" in msg


def test_type_embedding_is_rejected_clearly(single, reg):
    single["model"]["type_embedding"] = {"neuron": [8]}
    msg = _error(single, reg)
    assert "`model/type_embedding`" in msg and "not supported" in msg


def test_value_checks(single, reg):
    cases = [
        (("training", "training_data", "batch_size"), "auto:0"),
        (("training", "training_data", "batch_size"), "mixed:32"),
        (("training", "training_data", "batch_size"), 0),
        (("training", "training_data", "auto_prob"), "prob_size"),
        (("training", "training_data", "systems"), []),
        (("training", "disp_freq"), 0),
        (("training", "numb_steps"), -1),
        (("model", "type_map"), ["O", "O"]),
        (("model", "data_stat_nbatch"), 0),
    ]
    for path, value in cases:
        raw = copy.deepcopy(single)
        node = raw
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        msg = _error(raw, reg)
        assert f"`{'/'.join(path)}`" in msg and "invalid value" in msg, (path, msg)


def test_auto_prob_groups_are_accepted(single, reg):
    single["training"]["training_data"]["auto_prob"] = "prob_sys_size;0:2:0.5;2:3:0.5"
    single["training"]["training_data"]["batch_size"] = "auto:64"
    out = normalize(single, registries=reg)
    assert out["training"]["training_data"]["auto_prob"].startswith("prob_sys_size;")


def test_per_system_lists_must_match_systems(single, reg):
    single["training"]["training_data"]["batch_size"] = [1, 2]
    msg = _error(single, reg)
    assert "`training/training_data/batch_size`" in msg and "3 systems" in msg
    single["training"]["training_data"]["batch_size"] = [1, 2, 3]
    single["training"]["validation_data"]["sys_probs"] = [0.5, 0.5]
    assert "`training/validation_data/sys_probs`" in _error(single, reg)


def test_non_finite_numbers_are_rejected(single, reg):
    single["loss"]["start_pref_e"] = float("nan")
    assert "`loss/start_pref_e`" in _error(single, reg)


def test_errors_inside_dict_entries_name_the_full_path(multi, reg):
    cases = [
        (("loss_dict", "water_dipole", "pref_atomic"), "1"),
        (("model", "fitting_net_dict", "water_ener", "neuron"), "wide"),
        (("training", "data_dict", "water_ener", "training_data", "batch_size"), 1.5),
        (("training", "data_dict", "water_dipole", "validation_data", "numb_btch"), "3"),
        (("learning_rate_dict", "water_ener", "start_lr"), "fast"),
    ]
    for path, value in cases:
        raw = copy.deepcopy(multi)
        raw.setdefault("learning_rate_dict", {"water_ener": {}})
        node = raw
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        msg = _error(raw, reg)
        assert f"`{'/'.join(path)}`" in msg, (path, msg)


def test_unknown_and_missing_keys_inside_dict_entries(multi, reg):
    multi["loss_dict"]["water_dipole"]["pref_atomc"] = 1.0
    msg = _error(multi, reg)
    assert "`loss_dict/water_dipole/pref_atomc`" in msg and "`pref_atomic`" in msg
    del multi["loss_dict"]["water_dipole"]["pref_atomc"]
    del multi["loss_dict"]["water_dipole"]["pref"]
    msg = _error(multi, reg)
    assert "`loss_dict/water_dipole/pref`" in msg and "required" in msg


def test_data_dict_entry_needs_training_data(multi, reg):
    del multi["training"]["data_dict"]["water_ener"]["training_data"]
    msg = _error(multi, reg)
    assert "`training/data_dict/water_ener/training_data`" in msg and "required" in msg
