"""lcurve.out layouts, restart truncation, status line, sampler bookkeeping."""

import io
import math

import numpy as np
import pytest

from deepmt.train.lcurve import NAN_NOTE, HeadColumns, LCurveWriter
from deepmt.train.progress import Progress, format_duration
from deepmt.train.sampling import HeadSampler, RecordedData, TrainerState, stream_rng


def test_single_task_layout_is_deepmd_kit_s(tmp_path):
    path = tmp_path / "lcurve.out"
    writer = LCurveWriter(str(path), [HeadColumns("main", ["rmse", "rmse_e", "rmse_f"], True)],
                          multi_task=False)
    train = {"main": {"rmse": 0.213, "rmse_e": math.nan, "rmse_f": 0.0267}}
    valid = {"main": {"rmse": 0.305, "rmse_e": 0.0123, "rmse_f": 0.0301}}
    writer.write(0, train, valid, {"main": 1e-3})
    writer.write(100, train, valid, {"main": 3.5e-4})
    writer.close()
    lines = path.read_text().splitlines()
    assert lines[0] == ("#  step      rmse_val    rmse_trn    rmse_e_val  rmse_e_trn"
                        "    rmse_f_val  rmse_f_trn         lr")
    assert lines[1] + "\n" == NAN_NOTE
    assert lines[2] == ("      0      3.05e-01    2.13e-01      1.23e-02         nan"
                        "      3.01e-02    2.67e-02    1.0e-03")
    assert lines[3].startswith("    100")
    data = np.loadtxt(path)
    assert data.shape == (2, 8) and math.isnan(data[0, 4])


def test_single_task_without_validation(tmp_path):
    path = tmp_path / "lcurve.out"
    writer = LCurveWriter(str(path), [HeadColumns("main", ["rmse", "rmse_lc"], False)], False)
    writer.write(5, {"main": {"rmse": 1.0, "rmse_lc": 2.0}}, {"main": None}, {"main": 1e-3})
    writer.close()
    lines = path.read_text().splitlines()
    assert lines[0].split() == ["#", "step", "rmse_trn", "rmse_lc_trn", "lr"]
    assert lines[2].split() == ["5", "1.00e+00", "2.00e+00", "1.0e-03"]


@pytest.mark.parametrize("lr_per_head", [False, True])
def test_multi_task_one_line_per_step_readable_by_genfromtxt(tmp_path, lr_per_head):
    path = tmp_path / "lcurve.out"
    heads = [HeadColumns("water_ener", ["rmse", "rmse_e", "rmse_f"], True),
             HeadColumns("water_dipole", ["rmse", "rmse_lc"], False)]
    writer = LCurveWriter(str(path), heads, multi_task=True, lr_per_head=lr_per_head)
    train = {"water_ener": {"rmse": 1.0, "rmse_e": 2.0, "rmse_f": 3.0},
             "water_dipole": {"rmse": 4.0, "rmse_lc": 5.0}}
    valid = {"water_ener": {"rmse": 6.0, "rmse_e": 7.0, "rmse_f": 8.0}, "water_dipole": None}
    for step in (0, 10, 20):
        writer.write(step, train, valid, {"water_ener": 1e-3, "water_dipole": 2e-3})
    writer.close()
    data = np.genfromtxt(path, names=True)
    lr_names = ["lr_water_ener", "lr_water_dipole"] if lr_per_head else ["lr"]
    assert list(data.dtype.names) == [
        "step", "rmse_val_water_ener", "rmse_trn_water_ener", "rmse_e_val_water_ener",
        "rmse_e_trn_water_ener", "rmse_f_val_water_ener", "rmse_f_trn_water_ener",
        "rmse_trn_water_dipole", "rmse_lc_trn_water_dipole"] + lr_names
    assert data["step"].tolist() == [0, 10, 20]
    assert data["rmse_f_val_water_ener"][1] == 8.0
    assert data["rmse_lc_trn_water_dipole"][2] == 5.0
    if lr_per_head:
        assert data["lr_water_dipole"][0] == 2e-3


def test_restart_appends_and_drops_records_after_the_checkpoint(tmp_path):
    path = tmp_path / "lcurve.out"
    cols = [HeadColumns("main", ["rmse"], False)]
    writer = LCurveWriter(str(path), cols, False)
    for step in (0, 10, 20, 30):
        writer.write(step, {"main": {"rmse": step}}, {"main": None}, {"main": 1e-3})
    writer.close()
    # the run was checkpointed at step 20, then died after writing step 30
    writer = LCurveWriter(str(path), cols, False, restart_step=20)
    writer.write(30, {"main": {"rmse": 99.0}}, {"main": None}, {"main": 1e-3})
    writer.close()
    data = np.loadtxt(path)
    assert data[:, 0].tolist() == [0, 10, 20, 30] and data[-1, 1] == 99.0
    assert path.read_text().count("#  step") == 1


def test_progress_plain_and_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")
    stream = io.StringIO()
    progress = Progress(0, 100, stream=stream, interactive=True)
    progress.add_step_time(0.5)
    progress.add_step_time(0.5)
    progress.report(2, {"a": {"rmse": 1.0, "rmse_f": 0.5}}, {"a": {"rmse": 2.0, "rmse_f": 0.25}})
    text = stream.getvalue()
    assert text.startswith("\r") and "step 2/100" in text and "2.0 steps/s" in text
    assert "trn/val rmse_f 5.00e-01/2.50e-01" in text
    summary = progress.summary(2, 1.0, 0.5)
    assert "2 steps" in summary and "500.00 ms per step" in summary
    assert stream.getvalue().endswith("\n")  # the live line was closed
    plain = io.StringIO()
    quiet = Progress(0, 10, stream=plain, interactive=False)
    quiet.update(3)
    assert plain.getvalue() == ""  # no live line without a terminal
    assert format_duration(3725) == "1:02:05" and format_duration(math.nan) == "?"
    monkeypatch.setenv("COLUMNS", "40")
    narrow = io.StringIO()
    Progress(0, 100, stream=narrow, interactive=True).report(1, {"a": {"rmse": 1.0}}, {})
    assert len(narrow.getvalue().strip("\r").replace("\x1b[K", "")) == 39


def test_recorded_data_replay_restores_the_sampler():
    class Fake:
        nsystems = 2

        def __init__(self, seed):
            self.rng = np.random.default_rng(seed)

        def get_batch(self, sys_idx=None):
            if sys_idx is None:
                sys_idx = int(self.rng.integers(2))
            return {"sys_idx": sys_idx, "x": float(self.rng.random())}

    data = RecordedData(Fake(3))
    [data.get_batch(0) for _ in range(3)]
    [data.get_batch() for _ in range(5)]
    data.get_batch(1)
    assert data.calls == [[0, 3], [-1, 5], [1, 1]]
    expected = [data.get_batch()["x"] for _ in range(4)]
    state = TrainerState.from_json(TrainerState(7, None, {"h/train": data.calls[:3]}).to_json())
    again = RecordedData(Fake(3))
    again.replay(state.data_calls["h/train"])
    assert [again.get_batch()["x"] for _ in range(4)] == expected
    assert TrainerState.from_json(b"") is None and TrainerState.from_json("{bad") is None


def test_head_sampler_frequencies_and_stream_independence():
    sampler = HeadSampler(["a", "b"], [1.0, 3.0], stream_rng(5, "head_choice"))
    draws = [sampler.draw() for _ in range(4000)]
    assert abs(draws.count("b") / 4000 - 0.75) < 0.03
    assert HeadSampler(["only"], [1.0], stream_rng(5, "x")).draw() == "only"
    one, two = stream_rng(5, "a/train"), stream_rng(5, "b/train")
    assert one.random() != two.random()
    assert stream_rng(5, "a/train").random() == stream_rng(5, "a/train").random()
