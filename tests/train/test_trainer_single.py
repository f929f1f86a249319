"""Single-task training end to end: loss goes down, lcurve, checkpoints,
restart == uninterrupted (bit for bit), init-model, sel warnings, CLI."""

import json
import logging
import os

import numpy as np
import pytest

from train_helpers import checkpoint_values, make_trainer, require_ops, single_task_input

require_ops()


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory):
    """20 uninterrupted steps; returns its folder."""
    tmp = tmp_path_factory.mktemp("straight")
    trainer = make_trainer(single_task_input(tmp))
    assert trainer.run() == 20
    return tmp


def _lcurve(path):
    return np.loadtxt(path, ndmin=2)


def test_loss_goes_down_and_lcurve_layout(straight_run):
    text = (straight_run / "lcurve.out").read_text().splitlines()
    assert text[0].split() == ["#", "step", "rmse_val", "rmse_trn", "rmse_e_val", "rmse_e_trn",
                               "rmse_f_val", "rmse_f_trn", "lr"]
    data = _lcurve(straight_run / "lcurve.out")
    assert data[:, 0].tolist() == [0, 5, 10, 15, 20]
    # the validation batch is the same 2 frames every time: a fair comparison
    assert data[-1, 1] < 0.7 * data[0, 1]          # total loss
    assert data[-1, 5] < data[0, 5]                 # force RMSE
    assert data[0, -1] == pytest.approx(5e-3)       # lr column at step 0
    assert data[-1, -1] == pytest.approx(1e-4, rel=0.06)  # lr printed with 2 digits


def test_checkpoints_and_stored_script(straight_run):
    from deepmt import keys
    from deepmt.train.checkpoint import read_state

    latest, every = read_state(str(straight_run))
    assert os.path.basename(latest) == "model.ckpt-20"
    assert [os.path.basename(p) for p in every] == ["model.ckpt-10", "model.ckpt-20"]
    assert os.path.exists(latest + ".meta")
    from deepmt.utils.tf_compat import get_tf

    tf = get_tf()
    meta = tf.MetaGraphDef()
    meta.ParseFromString(open(latest + ".meta", "rb").read())
    consts = {n.name: n for n in meta.graph_def.node}
    assert keys.ATTR_TRAINING_SCRIPT in consts and keys.ATTR_METADATA in consts
    value = tf.make_ndarray(consts[keys.ATTR_TRAINING_SCRIPT].attr["value"].tensor)
    script = json.loads(value.item().decode())
    assert script["training"]["numb_steps"] == 20 and script["model"]["descriptor"]["sel"] == [16, 32]
    assert checkpoint_values(latest, trainable_only=False)["global_step"] == 20


def test_restart_is_bit_identical_to_an_uninterrupted_run(straight_run, tmp_path, monkeypatch):
    from deepmt.train.trainer import Trainer

    original = Trainer._train_step

    def dies_after_13(self, task, batch):
        step = original(self, task, batch)
        if step == 13:
            raise KeyboardInterrupt("killed")
        return step

    monkeypatch.setattr(Trainer, "_train_step", dies_after_13)
    with pytest.raises(KeyboardInterrupt):
        make_trainer(single_task_input(tmp_path)).run()
    monkeypatch.setattr(Trainer, "_train_step", original)
    assert _lcurve(tmp_path / "lcurve.out")[:, 0].tolist() == [0, 5, 10]
    trainer = make_trainer(single_task_input(tmp_path), restart=str(tmp_path / "model.ckpt"))
    assert trainer.run() == 20
    want = checkpoint_values(str(straight_run / "model.ckpt-20"))
    got = checkpoint_values(str(tmp_path / "model.ckpt-20"))
    assert sorted(got) == sorted(want) and len(want) > 5
    for name in want:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)
    # the appended learning curve continues the original one exactly
    np.testing.assert_array_equal(_lcurve(tmp_path / "lcurve.out"),
                                  _lcurve(straight_run / "lcurve.out"))


def test_init_model_starts_at_step_zero_from_the_weights(straight_run, tmp_path):
    trainer = make_trainer(single_task_input(tmp_path, numb_steps=5),
                           init_model=str(straight_run / "model.ckpt"))
    assert trainer.run() == 5
    first = _lcurve(tmp_path / "lcurve.out")[0]
    last_of_straight = _lcurve(straight_run / "lcurve.out")[-1]
    assert first[0] == 0
    # step 0 of the new run evaluates the restored weights on the same
    # validation frames: same energy/force RMSEs as the end of the first run
    # (the total differs: its prefactors follow the learning rate)
    np.testing.assert_allclose(first[[3, 5]], last_of_straight[[3, 5]], rtol=1e-10)
    assert first[1] != last_of_straight[1]
    assert first[-1] == pytest.approx(5e-3)  # learning rate starts over


def test_mismatched_checkpoint_is_a_clean_error(straight_run, tmp_path):
    from deepmt.errors import ModelFileError

    jdata = single_task_input(tmp_path, numb_steps=2)
    jdata["model"]["fitting_net"]["neuron"] = [6]
    with pytest.raises(ModelFileError, match="does not match the model"):
        make_trainer(jdata, init_model=str(straight_run)).run()


def test_small_sel_warns_once_per_system(tmp_path, caplog):
    jdata = single_task_input(tmp_path, numb_steps=3, disp_freq=10)
    jdata["model"]["descriptor"]["sel"] = [2, 4]
    with caplog.at_level(logging.WARNING, logger="deepmt.train"):
        make_trainer(jdata).run()
    hits = [r for r in caplog.records if "farthest neighbours are ignored" in r.getMessage()]
    assert len(hits) == 1 and "train" in hits[0].getMessage()


def test_cli_train_with_auto_sel(tmp_path, monkeypatch):
    from deepmt.entrypoints.main import main

    jdata = single_task_input(tmp_path, numb_steps=2, disp_freq=1, save_freq=0)
    jdata["model"]["descriptor"]["sel"] = "auto"
    (tmp_path / "input.json").write_text(json.dumps(jdata))
    monkeypatch.chdir(tmp_path)
    assert main(["train", "input.json", "-o", "normalized.json"]) == 0
    out = json.loads((tmp_path / "normalized.json").read_text())
    sel = out["model"]["descriptor"]["sel"]
    assert isinstance(sel, list) and all(s % 4 == 0 and s > 0 for s in sel)
    assert os.path.exists(tmp_path / "model.ckpt-2.meta")  # save_freq 0: end only
    assert not os.path.exists(tmp_path / "model.ckpt-1.index")
    # a user mistake is one line on stderr and exit status 1
    jdata["training"]["numb_step"] = 3
    (tmp_path / "bad.json").write_text(json.dumps(jdata))
    assert main(["train", "bad.json"]) == 1


def test_neighbor_stat_resolves_auto_and_warns_for_small_sel(tmp_path, caplog):
    from deepmt.errors import ConfigError
    from deepmt.train.config import normalize
    from deepmt.train.stats import resolve_sel

    script = normalize(single_task_input(tmp_path))
    script["model"]["descriptor"]["sel"] = "auto:1.5"
    min_dist = resolve_sel(script)
    assert 0.7 < min_dist < 1.2  # O-H bond length, Angstrom
    auto = script["model"]["descriptor"]["sel"]
    script["model"]["descriptor"]["sel"] = [2, 40]
    with caplog.at_level(logging.WARNING, logger="deepmt.train"):
        resolve_sel(script)
    warned = [r.getMessage() for r in caplog.records if "sel[" in r.getMessage()]
    assert len(warned) == 1 and "sel[0] = 2" in warned[0]
    assert all(s % 4 == 0 for s in auto) and auto[0] > 2
    script["model"]["descriptor"]["sel"] = "auto"
    with pytest.raises(ConfigError, match="skip-neighbor-stat"):
        resolve_sel(script, skip=True)
    script["model"]["descriptor"]["sel"] = "automatic"
    with pytest.raises(ConfigError, match="not understood"):
        resolve_sel(script)


def test_frame_and_atomic_parameters_are_fed(tmp_path):
    import shutil

    from train_helpers import water

    system = tmp_path / "with_params"
    shutil.copytree(water("ener", "train"), system)
    rng = np.random.default_rng(0)
    np.save(system / "set.000" / "fparam.npy", rng.normal(size=(4, 1)))
    np.save(system / "set.000" / "aparam.npy", rng.normal(size=(4, 192 * 2)))
    jdata = single_task_input(tmp_path, numb_steps=2, disp_freq=1, save_freq=0)
    jdata["model"]["fitting_net"].update(numb_fparam=1, numb_aparam=2)
    jdata["training"]["training_data"]["systems"] = [str(system)]
    del jdata["training"]["validation_data"]
    assert make_trainer(jdata).run() == 2
    data = _lcurve(tmp_path / "lcurve.out")
    assert data.shape == (3, 5) and np.all(np.isfinite(data))  # rmse, rmse_e, rmse_f trn + lr
