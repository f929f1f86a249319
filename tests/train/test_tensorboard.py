"""training/tensorboard and training/profiling: event files with the
expected tags and values, what a new run removes, restarts, the Chrome trace."""

import glob
import json
import math
import os

import numpy as np
import pytest

from train_helpers import make_trainer, multi_task_input, require_ops, single_task_input

require_ops()


def _events(folder):
    """``(graph_defs, session_logs, {step: {tag: value}})`` of every event file."""
    from deepmt.utils.tf_compat import get_tf

    tf = get_tf()
    graphs, starts, scalars = [], [], {}
    for path in sorted(glob.glob(os.path.join(folder, "events.out.tfevents.*"))):
        for event in tf.train.summary_iterator(path):
            if event.graph_def:
                graphs.append(event.graph_def)
            if event.HasField("session_log"):
                starts.append((event.session_log.status, event.step))
            for value in event.summary.value:
                scalars.setdefault(event.step, {})[value.tag] = value.simple_value
    return graphs, starts, scalars


def _with_tensorboard(jdata, folder, freq, **extra):
    jdata["training"].update(tensorboard=True, tensorboard_log_dir=str(folder),
                             tensorboard_freq=freq, **extra)
    return jdata


@pytest.fixture(scope="module")
def single_run(tmp_path_factory):
    """7 steps, records every 3rd step, trace of the last step; the log folder
    holds an old event file and a user file beforehand."""
    tmp = tmp_path_factory.mktemp("tb_single")
    logdir = tmp / "log"
    logdir.mkdir()
    (logdir / "events.out.tfevents.123.old-host").write_bytes(b"not an event file")
    (logdir / "notes.txt").write_text("keep me")
    (logdir / "sub").mkdir()
    (logdir / "sub" / "events.out.tfevents.1.x").write_text("not ours to delete")
    trace = tmp / "prof" / "timeline.json"
    jdata = _with_tensorboard(single_task_input(tmp, numb_steps=7, disp_freq=7, save_freq=0),
                              logdir, 3, profiling=True, profiling_file=str(trace))
    trainer = make_trainer(jdata)
    assert trainer.run() == 7
    return tmp, logdir, trace


def test_new_run_removes_only_old_event_files(single_run):
    _, logdir, _ = single_run
    names = sorted(os.listdir(logdir))
    events = [n for n in names if n.startswith("events.out.tfevents.")]
    assert len(events) == 1 and not events[0].endswith("old-host")
    assert (logdir / "notes.txt").read_text() == "keep me"
    assert (logdir / "sub" / "events.out.tfevents.1.x").exists()


def test_graph_and_scalar_tags_every_freq_steps(single_run):
    _, logdir, _ = single_run
    graphs, starts, scalars = _events(logdir)
    assert len(graphs) == 1 and not starts
    assert sorted(scalars) == [0, 3, 6]
    tags = {"main/loss", "main/rmse", "main/rmse_e", "main/rmse_f", "main/learning_rate"}
    for step in (0, 3, 6):
        assert set(scalars[step]) == tags
        assert all(math.isfinite(v) and v > 0 for v in scalars[step].values())
    # exp decay from 5e-3, decay_steps 5: the rate changes between steps 3 and 6
    assert scalars[0]["main/learning_rate"] == pytest.approx(5e-3, rel=1e-6)
    assert scalars[3]["main/learning_rate"] == pytest.approx(5e-3, rel=1e-6)
    assert scalars[6]["main/learning_rate"] < 5e-3


def test_step_zero_scalars_equal_the_learning_curve(single_run):
    """Single task: the step-0 lcurve record evaluates the same batch with
    the same parameters as the forward pass of the first step."""
    tmp, logdir, _ = single_run
    header = (tmp / "lcurve.out").read_text().splitlines()[0].split()[1:]
    row = dict(zip(header, np.loadtxt(tmp / "lcurve.out", ndmin=2)[0]))
    step0 = _events(logdir)[2][0]
    for name in ("rmse", "rmse_e", "rmse_f"):
        assert step0[f"main/{name}"] == pytest.approx(row[f"{name}_trn"], rel=6e-3)


def test_no_summary_ops_in_the_training_graph(single_run):
    """Records are built in Python from fetched values: ordinary steps run
    exactly what they ran without TensorBoard."""
    _, logdir, _ = single_run
    graph_def = _events(logdir)[0][0]
    from deepmt.utils.tf_compat import get_tf

    parsed = get_tf().GraphDef()
    parsed.ParseFromString(graph_def)
    ops = {node.op for node in parsed.node}
    assert "DmtEnvMatA" in ops and not {o for o in ops if "Summary" in o}


def test_profiling_writes_a_chrome_trace_of_a_training_step(single_run):
    _, _, trace = single_run
    data = json.loads(trace.read_text())
    events = data["traceEvents"]
    assert isinstance(events, list) and events
    ops = {ev.get("args", {}).get("op") for ev in events}
    assert {"DmtEnvMatA", "DmtProdForce"} <= ops  # a real step, forward and backward


def test_restart_keeps_event_files_and_continues(tmp_path):
    logdir = tmp_path / "log"

    def jdata(steps):
        return _with_tensorboard(single_task_input(tmp_path, numb_steps=steps, disp_freq=2,
                                                   save_freq=2), logdir, 2)

    assert make_trainer(jdata(4)).run() == 4
    first = glob.glob(str(logdir / "events.out.tfevents.*"))
    assert make_trainer(jdata(6), restart=str(tmp_path)).run() == 6
    assert set(first) < set(glob.glob(str(logdir / "events.out.tfevents.*")))
    _, starts, scalars = _events(logdir)
    from deepmt.utils.tf_compat import get_tf

    assert starts == [(get_tf().SessionLog.START, 4)]
    assert sorted(scalars) == [0, 2, 4]


def test_multi_task_records_the_head_of_each_step(tmp_path):
    jdata = _with_tensorboard(multi_task_input(tmp_path, numb_steps=8, disp_freq=8,
                                               save_freq=0), tmp_path / "log", 1)
    trainer = make_trainer(jdata)
    trainer.setup()
    drawn, draw = [], trainer.sampler.draw

    def recording_draw():
        drawn.append(draw())
        return drawn[-1]

    trainer.sampler.draw = recording_draw
    assert trainer.run() == 8
    scalars = _events(tmp_path / "log")[2]
    assert sorted(scalars) == list(range(8))
    for step, head in enumerate(drawn):
        tags = set(scalars[step])
        assert {t.split("/")[0] for t in tags} == {head}
        assert {f"{head}/loss", f"{head}/rmse", f"{head}/learning_rate"} <= tags
    assert len(set(drawn)) > 1
    # polar has pref 0: no global metric; a metric the batch has no label for is left out
    assert not any(t == "water_polar/rmse_gl" for s in scalars.values() for t in s)
    assert all("water_ener/rmse_f" in s for s in scalars.values() if "water_ener/loss" in s)


def test_unwritable_outputs_raise_config_errors(tmp_path):
    from deepmt.errors import ConfigError
    from deepmt.train.progress import TensorBoardLog, write_chrome_trace
    from deepmt.utils.tf_compat import get_tf

    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="training/tensorboard_log_dir.*a_file"):
        TensorBoardLog(str(blocker / "log"), 1, None)
    with pytest.raises(ConfigError, match="training/profiling_file.*a_file"):
        write_chrome_trace(get_tf().RunMetadata(), str(blocker / "timeline.json"))
