"""``deepmt freeze --head``: the export's training script describes that head only.

``train_attr/training_script`` of a one-head export keeps the multi-task
form but lists only the kept head in every per-head section, so that
``deepmt train --init-frz-model head.pb`` completes only the head the file
really holds.  The end-to-end part trains a tiny two-head model (water
energy + dipole) for one step.
"""

import copy
import json
import os
import sys

import numpy as np
import pytest

from deepmt import keys
from deepmt.entrypoints import main as cli_main
from deepmt.freeze.freezer import head_training_script

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "train"))
from train_helpers import (checkpoint_values, make_trainer, multi_task_input,  # noqa: E402
                           require_ops, water)

PER_HEAD = (("model", "fitting_net_dict"), ("loss_dict",), ("learning_rate_dict",),
            ("training", "data_dict"), ("training", "fitting_weight"))


def _at(script, path):
    for key in path:
        script = script[key]
    return script


def _three_head_script():
    heads = ("ener", "dip", "pol")
    return {
        "model": {"type_map": ["O", "H"], "descriptor": {"type": "se_e2_a", "rcut": 4.0},
                  "fitting_net_dict": {h: {"type": h, "seed": i} for i, h in enumerate(heads)}},
        "loss_dict": {h: {"type": "x" + h} for h in heads},
        "learning_rate_dict": {h: {"start_lr": 0.1 * i} for i, h in enumerate(heads)},
        "training": {"data_dict": {h: {"training_data": {"systems": [h]}} for h in heads},
                     "fitting_weight": {"ener": 0.5, "dip": 0.5, "pol": 0.0},
                     "numb_steps": 10},
    }


def test_head_script_keeps_only_that_head():
    script = _three_head_script()
    before = copy.deepcopy(script)
    kept = head_training_script(script, "dip")
    assert script == before, "the input script is not modified"
    for path in PER_HEAD:
        assert list(_at(kept, path)) == ["dip"], path
        if path != ("training", "fitting_weight"):
            assert _at(kept, path)["dip"] == _at(before, path)["dip"], path
    assert kept["training"]["fitting_weight"] == {"dip": 1.0}  # normalized: sums to 1
    assert kept["model"]["descriptor"] == before["model"]["descriptor"]
    assert kept["model"]["type_map"] == ["O", "H"] and kept["training"]["numb_steps"] == 10
    # an untrained head (weight 0) stays untrained
    assert head_training_script(script, "pol")["training"]["fitting_weight"] == {"pol": 0.0}
    # sections a script lacks stay absent
    del script["learning_rate_dict"], script["training"]["fitting_weight"]
    kept = head_training_script(script, "ener")
    assert "learning_rate_dict" not in kept and "fitting_weight" not in kept["training"]
    assert list(kept["loss_dict"]) == ["ener"]


def test_single_task_script_is_unchanged():
    script = {"model": {"fitting_net": {"neuron": [8]}, "descriptor": {}},
              "loss": {"type": "ener"}, "training": {"training_data": {"systems": ["a"]}}}
    assert head_training_script(script, keys.SINGLE_TASK_HEAD) is script


# --- end to end: train, export one head, start a new run from it ----------------------------

def _two_head_input(folder):
    jdata = multi_task_input(folder, numb_steps=1, disp_freq=1, save_freq=1)
    for section in (jdata["model"]["fitting_net_dict"], jdata["loss_dict"],
                    jdata["training"]["data_dict"]):
        del section["water_polar"]
    jdata["training"]["fitting_weight"] = {"water_ener": 3.0, "water_dipole": 1.0}
    jdata["learning_rate_dict"] = {head: dict(jdata["learning_rate"], start_lr=lr)
                                   for head, lr in (("water_ener", 4e-3), ("water_dipole", 2e-3))}
    return jdata


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """``(normalized script of the run, run folder, head.pb, united.pb)``."""
    require_ops()
    folder = tmp_path_factory.mktemp("two_heads")
    trainer = make_trainer(_two_head_input(folder))
    assert trainer.run() == 1
    head_pb, united_pb = str(folder / "head.pb"), str(folder / "united.pb")
    assert cli_main.main(["freeze", "-c", str(folder), "-o", head_pb,
                          "--head", "WATER_ENER"]) == 0
    assert cli_main.main(["freeze", "-c", str(folder), "-o", united_pb]) == 0
    return trainer.script, folder, head_pb, united_pb


def test_head_export_script_lists_only_that_head(exported):
    from deepmt.train.frozen_script import read_frozen_script

    full, _, head_pb, united_pb = exported
    assert read_frozen_script(united_pb) == full
    script = read_frozen_script(head_pb)
    for path in PER_HEAD:
        assert list(_at(script, path)) == ["water_ener"], path
    assert script["training"]["fitting_weight"] == {"water_ener": 1.0}
    assert full["training"]["fitting_weight"]["water_ener"] == pytest.approx(0.75)
    for path in PER_HEAD[:-1]:
        assert _at(script, path)["water_ener"] == _at(full, path)["water_ener"], path
    assert script["learning_rate_dict"]["water_ener"]["start_lr"] == 4e-3
    assert script["model"]["descriptor"] == full["model"]["descriptor"]


def _new_run_input(folder, heads):
    """Multi-task input taking the descriptor and ``heads`` ({}) from the frozen file."""
    jdata = multi_task_input(folder, numb_steps=0)
    jdata["model"]["descriptor"] = {}
    jdata["model"]["fitting_net_dict"] = {h: {} for h in heads}
    jdata["model"]["fitting_net_dict"]["new"] = {"type": "ener", "neuron": [8], "seed": 9}
    jdata["loss_dict"] = {"new": {"type": "ener"}}
    jdata["training"]["data_dict"] = {"new": {"training_data": {
        "systems": [water("ener", "train")], "batch_size": 1}}}
    path = folder / "input.json"
    path.write_text(json.dumps(jdata))
    return str(path)


def test_init_frz_model_from_head_export(exported, tmp_path, capsys):
    full, run, head_pb, _ = exported
    out = tmp_path / "out.json"
    argv = ["train", "--skip-neighbor-stat", "-o", str(out), "--init-frz-model", head_pb]
    assert cli_main.main(argv + [_new_run_input(tmp_path, ["water_ener"])]) == 0
    script = json.loads(out.read_text())
    fits = script["model"]["fitting_net_dict"]
    assert list(fits) == ["water_ener", "new"]
    assert fits["water_ener"] == full["model"]["fitting_net_dict"]["water_ener"]
    for path in (("loss_dict",), ("training", "data_dict")):  # copied from the export
        assert _at(script, path)["water_ener"] == _at(full, path)["water_ener"], path
    new = checkpoint_values(str(tmp_path / "model.ckpt-0"))
    old = checkpoint_values(str(run / "model.ckpt-1"))
    reused = [n for n in old if n.startswith("heads/water_ener/") or not n.startswith("heads/")]
    assert reused and not [n for n in new if n.startswith("heads/water_dipole/")]
    for name in reused:
        np.testing.assert_array_equal(new[name], old[name], err_msg=name)
    bias = [n for n in new if n.startswith("heads/new/") and "bias_atom_e" in n]
    assert bias and np.all(np.abs(new[bias[0]]) > 1.0)  # fresh eV-scale statistics
    # the dipole head was left out of the export: it cannot be taken from it
    capsys.readouterr()
    assert cli_main.main(argv + [_new_run_input(tmp_path, ["water_ener", "water_dipole"])]) == 1
    err = capsys.readouterr().err
    assert "model/fitting_net_dict/water_dipole is empty" in err
    assert "has no head 'water_dipole'" in err and "['water_ener']" in err
