"""Multi-task training: head isolation, weight-0 heads, lcurve columns,
Adam slot names, and --init-frz-model with a new head."""

import logging

import numpy as np
import pytest

from train_helpers import (checkpoint_values, make_trainer, multi_task_input, require_ops,
                           session_values)

require_ops()

HEADS = ("water_ener", "water_dipole", "water_polar")


def _head_vars(names, head):
    return [n for n in names if n.startswith(f"heads/{head}/")
            and ("matrix" in n or "bias" in n or "idt" in n)]


def _descriptor_vars(names):
    return [n for n in names if not n.startswith("heads/") and "matrix" in n]


def test_a_step_of_one_head_moves_the_descriptor_not_the_other_heads(tmp_path):
    jdata = multi_task_input(tmp_path, numb_steps=1)
    for section in (jdata["model"]["fitting_net_dict"], jdata["loss_dict"],
                    jdata["training"]["data_dict"]):
        del section["water_polar"]  # two heads are enough here
    trainer = make_trainer(jdata)
    trainer.setup()
    try:
        names = [v.op.name for v in trainer.graph.get_collection("trainable_variables")]
        ener, dipole = _head_vars(names, "water_ener"), _head_vars(names, "water_dipole")
        desc = _descriptor_vars(names)
        assert ener and dipole and desc
        before = session_values(trainer, ener + dipole + desc)
        task = trainer.tasks["water_ener"]
        trainer._train_step(task, task.train_data.get_batch())
        after = session_values(trainer, ener + dipole + desc)
    finally:
        trainer.close()
    for name in dipole:
        np.testing.assert_array_equal(after[name], before[name], err_msg=name)
    assert any(not np.array_equal(after[n], before[n]) for n in desc)
    assert any(not np.array_equal(after[n], before[n]) for n in ener)


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture(scope="module")
def multi_run(tmp_path_factory):
    """8 steps with the polar head at weight 0; returns (folder, initial polar
    weights, warnings logged)."""
    tmp = tmp_path_factory.mktemp("multi")
    jdata = multi_task_input(tmp, numb_steps=8, disp_freq=4, save_freq=4,
                             weights={"water_ener": 2, "water_dipole": 1, "water_polar": 0})
    records = _Records()
    logging.getLogger("deepmt").addHandler(records)
    try:
        trainer = make_trainer(jdata)
        trainer.setup()
        names = [v.op.name for v in trainer.graph.get_collection("trainable_variables")]
        polar = _head_vars(names, "water_polar")
        initial = session_values(trainer, polar)
        assert trainer.run() == 8
    finally:
        logging.getLogger("deepmt").removeHandler(records)
    return tmp, initial, records.messages


def test_weight_zero_head_is_not_trained_and_warned_about(multi_run):
    tmp, initial, warnings = multi_run
    final = checkpoint_values(str(tmp / "model.ckpt-8"))
    assert initial
    for name, value in initial.items():
        np.testing.assert_array_equal(final[name], value, err_msg=name)
    assert any("water_polar" in m and "not be trained" in m for m in warnings)
    assert not any("water_ener" in m or "water_dipole" in m for m in warnings)


def test_multi_task_lcurve_reads_with_genfromtxt(multi_run):
    tmp, _, _ = multi_run
    data = np.genfromtxt(tmp / "lcurve.out", names=True)
    names = list(data.dtype.names)
    assert names[0] == "step" and data["step"].tolist() == [0, 4, 8]
    for col in ("rmse_val_water_ener", "rmse_trn_water_ener", "rmse_e_val_water_ener",
                "rmse_f_trn_water_ener", "rmse_trn_water_dipole", "rmse_lc_trn_water_dipole",
                "rmse_gl_trn_water_dipole", "rmse_lc_trn_water_polar", "lr"):
        assert col in names, col
    assert "rmse_gl_trn_water_polar" not in names  # pref 0: no global term
    assert "rmse_val_water_dipole" not in names    # no validation data
    assert np.all(np.isfinite(data["rmse_f_val_water_ener"]))


def test_adam_slots_are_named_per_head(multi_run):
    tmp, _, _ = multi_run
    from deepmt.utils.tf_compat import get_tf

    names = set(get_tf().train.load_checkpoint(str(tmp / "model.ckpt-8"))
                .get_variable_to_shape_map())
    desc = sorted(n for n in names if not n.startswith("heads/") and "matrix" in n
                  and "Adam" not in n)[0]
    for head in HEADS:
        assert f"{desc}/Adam_{head}" in names and f"{desc}/Adam_{head}_1" in names
        assert f"heads/{head}/optimizer/beta1_power" in names


def test_init_frz_model_reuses_heads_and_gives_new_heads_statistics(multi_run, tmp_path):
    from deepmt.freeze import freeze

    tmp, _, _ = multi_run
    frozen = str(tmp_path / "frozen.pb")
    freeze(str(tmp), frozen)
    jdata = multi_task_input(tmp_path, numb_steps=0)
    jdata["model"]["descriptor"] = {}
    fits = jdata["model"]["fitting_net_dict"]
    fits["water_ener"] = {}
    fits["water_ener2"] = {"type": "ener", "neuron": [8], "seed": 9}
    del fits["water_polar"], fits["water_dipole"]
    data = jdata["training"]["data_dict"]
    data["water_ener2"] = data.pop("water_ener")
    del data["water_dipole"], data["water_polar"]
    for key in ("water_dipole", "water_polar"):
        del jdata["loss_dict"][key]
    from deepmt.train.frozen_script import complete_from_frozen

    jdata = complete_from_frozen(jdata, frozen)
    trainer = make_trainer(jdata, init_frz_model=frozen)
    assert trainer.run() == 0
    new = checkpoint_values(str(tmp_path / "model.ckpt-0"))
    old = checkpoint_values(str(tmp / "model.ckpt-8"))
    for name, value in old.items():
        if name.startswith("heads/water_ener/") or not name.startswith("heads/"):
            np.testing.assert_array_equal(new[name], value, err_msg=name)
    bias = [n for n in new if n.startswith("heads/water_ener2/") and "bias_atom_e" in n]
    assert bias and np.all(np.abs(new[bias[0]]) > 1.0)  # eV-scale bias, not zero


def test_multi_task_restart_is_bit_identical(multi_run, tmp_path, monkeypatch):
    from deepmt.train.trainer import Trainer

    reference, _, _ = multi_run
    original = Trainer._train_step

    def dies_after_6(self, task, batch):
        step = original(self, task, batch)
        if step == 6:
            raise KeyboardInterrupt("killed")
        return step

    def jdata():
        return multi_task_input(tmp_path, numb_steps=8, disp_freq=4, save_freq=4,
                                weights={"water_ener": 2, "water_dipole": 1, "water_polar": 0})

    monkeypatch.setattr(Trainer, "_train_step", dies_after_6)
    with pytest.raises(KeyboardInterrupt):
        make_trainer(jdata()).run()
    monkeypatch.setattr(Trainer, "_train_step", original)
    assert make_trainer(jdata(), restart=str(tmp_path)).run() == 8
    want = checkpoint_values(str(reference / "model.ckpt-8"), trainable_only=False)
    got = checkpoint_values(str(tmp_path / "model.ckpt-8"), trainable_only=False)
    assert sorted(got) == sorted(want)
    for name in want:  # weights, Adam moments of every head, step and sampler state
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)
    np.testing.assert_array_equal(np.genfromtxt(tmp_path / "lcurve.out"),
                                  np.genfromtxt(reference / "lcurve.out"))
