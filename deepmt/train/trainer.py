"""The training loop: one graph, one loss and one optimizer per head.

:class:`Trainer` builds a single TF graph (shared placeholders, the model
with the descriptor once and every head, per-head labels, losses and Adam
optimizers, see :mod:`deepmt.train.heads`) and runs the step loop:

* each step draws a head by normalized ``fitting_weight`` (seeded), takes a
  batch of that head's training data and runs that head's train op;
* at step 0 and every ``disp_freq`` steps every head with data is evaluated
  on a training batch and ``numb_btch`` validation batches (``lcurve.out``);
* every ``save_freq`` steps and at the end a checkpoint is written
  (:mod:`deepmt.train.checkpoint`);
* optionally, every ``tensorboard_freq`` steps the trained head's loss,
  metrics and learning rate go to TensorBoard, and the last step is traced
  into a Chrome timeline (``profiling``), see :mod:`deepmt.train.progress`.

Start modes: from scratch (data statistics), ``init_model`` (all variables
from a checkpoint, step 0), ``restart`` (continue a run, bit for bit) and
``init_frz_model`` (weights of a frozen model; heads it lacks get fresh
statistics).
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from typing import Dict, Optional, TextIO

import numpy as np

from deepmt import keys
from deepmt.errors import ConfigError, ModelFileError
from deepmt.train import heads as hd
from deepmt.train.checkpoint import (CheckpointManager, resolve_checkpoint,
                                     variable_mismatches)
from deepmt.train.lcurve import HeadColumns, LCurveWriter
from deepmt.train.progress import Progress, TensorBoardLog, write_chrome_trace
from deepmt.train.sampling import (HEAD_CHOICE, HeadSampler, RecordedData, TrainerState,
                                   fresh_seed, stream_rng)
from deepmt.utils.tf_compat import get_tf, session_config

log = logging.getLogger("deepmt.train")

#: name of the string variable holding the :class:`TrainerState`
STATE_VARIABLE = "trainer/state"


@dataclass
class TrainOptions:
    """How a run starts and where its status goes.

    Attributes
    ----------
    init_model
        Checkpoint to take every variable from (new run, step 0).
    restart
        Checkpoint to continue from (step, learning rate, data state).
    init_frz_model
        Frozen model to take the descriptor and matching heads from.
    min_nbor_dist
        Result of the neighbour statistics (stored in the graph), or None.
    stream, interactive
        Status line destination and terminal mode (see :class:`Progress`).
    """

    init_model: Optional[str] = None
    restart: Optional[str] = None
    init_frz_model: Optional[str] = None
    min_nbor_dist: Optional[float] = None
    stream: Optional[TextIO] = None
    interactive: Optional[bool] = None

    def mode(self) -> str:
        """``scratch``, ``init_model``, ``restart`` or ``init_frz_model``.

        Raises
        ------
        ConfigError
            More than one start mode is given.
        """
        given = [name for name in ("init_model", "restart", "init_frz_model")
                 if getattr(self, name)]
        if len(given) > 1:
            flags = ", ".join("--" + g.replace("_", "-") for g in given)
            raise ConfigError(f"{flags} cannot be combined: give at most one start mode.")
        return given[0] if given else "scratch"


class Trainer:
    """Trains every head of a :class:`deepmt.train.config.RunSpec`.

    Parameters
    ----------
    spec
        The run specification (``make_run_spec`` of ``script``).
    script
        The normalized input (``sel`` resolved); stored in the checkpoint
        as ``train_attr/training_script``.
    options
        Start mode and output options.
    """

    def __init__(self, spec, script: dict, options: Optional[TrainOptions] = None):
        self.spec = spec
        self.script = script
        self.opts = options or TrainOptions()
        self.mode = self.opts.mode()
        tr = spec.training
        self.numb_steps = int(tr["numb_steps"])
        self.disp_freq = int(tr.get("disp_freq", 1000))
        self.save_freq = int(tr.get("save_freq", 1000))
        self.display = bool(tr.get("disp_training", True))
        self.time_training = bool(tr.get("time_training", True))
        self.tasks: Dict[str, hd.HeadTask] = {}
        self.graph = None
        self.sess = None
        self._warned_sel = set()
        self._valid_seconds = 0.0
        self._save_seconds = 0.0
        self.profiling_file = tr.get("profiling_file", "timeline.json") if tr.get(
            "profiling") else None
        self.current_step: Optional[int] = None
        self.tensorboard: Optional[TensorBoardLog] = None

    # ------------------------------------------------------------------ set-up
    def _initial_state(self) -> TrainerState:
        """Base seed: stored in the checkpoint (restart), else from the input."""
        if self.mode == "restart":
            self.restart_prefix = resolve_checkpoint(self.opts.restart, "--restart")
            stored = _read_state_variable(self.restart_prefix)
            if stored is not None:
                return stored
            log.warning("checkpoint %s holds no sampler state; data draws will not "
                        "continue exactly", self.restart_prefix)
        seed = self.spec.training.get("seed")
        return TrainerState(seed=fresh_seed() if seed is None else int(seed))

    def _make_model(self):
        from deepmt.model import build_model

        fittings = {name: head.fitting for name, head in self.spec.heads.items()}
        self.model = build_model(self.spec.model, fittings, self.spec.type_map)
        if self.mode == "init_frz_model":
            frozen = self.model.init_from_frozen(self.opts.init_frz_model)
            self.new_heads = frozen["new_heads"]
            log.info("--init-frz-model: heads %s start from %s; new heads %s start from "
                     "scratch", frozen["heads"], self.opts.init_frz_model, self.new_heads)

    def _make_tasks(self) -> None:
        from deepmt.data import build_data, merge_requirements
        from deepmt.loss import make_loss
        from deepmt.train.learning_rate import make_learning_rate

        multi = self.spec.multi_task
        for name, head in self.spec.heads.items():
            fitting = self.model.fittings[name]
            lr_where = f"learning_rate_dict/{name}" if multi else "learning_rate"
            try:
                lr = make_learning_rate(head.learning_rate, self.numb_steps)
            except ConfigError as err:
                raise ConfigError(f"{lr_where}: {err}") from None
            loss = make_loss(head.loss, fitting.kind, fitting.get_sel_type(), lr.start_lr,
                             where=f"loss_dict/{name}" if multi else "loss")
            reqs = merge_requirements(list(self.model.data_requirements(name))
                                      + list(loss.label_requirements()))
            task = hd.HeadTask(name=name, kind=fitting.kind, weight=head.weight, loss=loss,
                               lr=lr, requirements=reqs)
            where = f"training/data_dict/{name}" if multi else "training"
            for role, key, block in (("train", "training_data", head.training_data),
                                     ("valid", "validation_data", head.validation_data)):
                if block:
                    data = build_data(block, self.spec.type_map, reqs,
                                      stream_rng(self.state.seed, f"{name}/{role}"),
                                      where=f"{where}/{key}")
                    setattr(task, f"{role}_data", RecordedData(data))
            if task.weight > 0 and task.train_data is None:
                log.warning("head %s has no training data: it will not be trained", name)
                task.weight = 0.0
            self.tasks[name] = task
        if multi:
            log.info("head sampling probabilities: %s", ", ".join(
                f"{t.name} {t.weight:.3g}" for t in self.tasks.values()))

    def _data_statistics(self) -> None:
        """Statistics from the training data (scratch, new heads of init-frz)."""
        from deepmt.train.stats import data_stat_batches

        if self.mode in ("restart", "init_model"):
            return
        nbatch = int(self.spec.model.get("data_stat_nbatch", 10))
        if self.mode == "init_frz_model":
            wanted = [self.tasks[h] for h in self.new_heads]
            batches = data_stat_batches(wanted, nbatch)
            if batches:
                self.model.compute_stats(batches, descriptor=False)
            return
        batches = data_stat_batches(self.tasks.values(), nbatch)
        if not batches:
            raise ConfigError("no head has training data: nothing to compute statistics from.")
        self.model.compute_stats(batches)

    def _build_graph(self) -> None:
        tf = get_tf()
        self.graph = tf.Graph()
        with self.graph.as_default():
            self.global_step = tf.train.get_or_create_global_step()
            self.placeholders = self.model.make_placeholders()
            outputs = self.model.build(self.placeholders)
            natoms = self.placeholders[keys.T_NATOMS]
            for name, task in self.tasks.items():
                task.labels = hd.make_label_placeholders(name, task.requirements)
                hd.build_head_graph(task, outputs[name], natoms, self.global_step)
            self._build_attrs()
            self.saver = tf.train.Saver(max_to_keep=int(self.spec.training["max_ckpt_keep"]))
            self.init_op = tf.global_variables_initializer()
        names = {op.name for op in self.graph.get_operations()}
        self.max_nnei = (self.graph.get_tensor_by_name(keys.tensor_name(keys.O_MAX_NNEI))
                         if keys.O_MAX_NNEI in names else None)
        # per-type sel, compared with max_nnei after every step (_check_sel)
        self._sel = (np.asarray(self.model.descriptor.get_sel())
                     if self.max_nnei is not None else None)

    def _build_attrs(self) -> None:
        tf = get_tf()
        text = json.dumps(self.script, separators=(",", ":"))
        tf.constant(text, name=keys.ATTR_TRAINING_SCRIPT)
        if self.opts.min_nbor_dist is not None:
            tf.constant(float(self.opts.min_nbor_dist), dtype=tf.float64,
                        name=keys.ATTR_MIN_NBOR_DIST)
        self.state_var = tf.Variable("", dtype=tf.string, trainable=False, name=STATE_VARIABLE)
        self.state_input = tf.placeholder(tf.string, [], name="trainer/state_input")
        self.state_assign = tf.assign(self.state_var, self.state_input)

    def _start_session(self) -> int:
        """Open the session, initialize or restore variables; return the step."""
        tf = get_tf()
        self.sess = tf.Session(graph=self.graph, config=session_config())
        self.sess.run(self.init_op)
        if self.mode == "restart":
            self._restore(self.restart_prefix, "--restart")
            for stream, data in self._data_streams():
                data.replay(self.state.data_calls.get(stream, []))
        elif self.mode == "init_model":
            prefix = resolve_checkpoint(self.opts.init_model, "--init-model")
            self._restore(prefix, "--init-model")
            self.global_step.load(0, self.sess)
        return int(self.sess.run(self.global_step))

    def _data_streams(self):
        """``(<head>/<role>, RecordedData)`` of every head's train and valid data."""
        for name, task in self.tasks.items():
            for role in ("train", "valid"):
                data = getattr(task, f"{role}_data")
                if data is not None:
                    yield f"{name}/{role}", data

    def _restore(self, prefix: str, flag: str) -> None:
        tf = get_tf()
        with self.graph.as_default():
            problems = variable_mismatches(prefix, tf.global_variables())
        if problems:
            raise ModelFileError(
                f"{flag}: checkpoint {prefix!r} does not match the model of this input "
                f"(variables {'; '.join(problems)}). The descriptor, the heads (names and "
                "kinds) and the net sizes must be the same; to start from a model with "
                "other heads use --init-frz-model.")
        self.saver.restore(self.sess, prefix)
        log.info("variables restored from %s", prefix)

    def setup(self) -> None:
        """Everything before the first step (data, statistics, graph, session)."""
        self.state = self._initial_state()
        self._make_model()
        self._make_tasks()
        self._data_statistics()
        self._build_graph()
        self.start_step = self._start_session()
        trained = [t for t in self.tasks.values() if t.trained]
        if not trained:
            raise ConfigError("no head can be trained: every head lacks training data or "
                              "has weight 0 in training/fitting_weight.")
        rng = stream_rng(self.state.seed, HEAD_CHOICE)
        if self.mode == "restart" and self.state.head_rng:
            rng.bit_generator.state = self.state.head_rng
        self.sampler = HeadSampler([t.name for t in trained], [t.weight for t in trained], rng)
        self.progress = Progress(self.start_step, self.numb_steps, self.opts.stream,
                                 self.opts.interactive)
        tr = self.spec.training
        if tr.get("tensorboard"):
            self.tensorboard = TensorBoardLog(
                tr.get("tensorboard_log_dir", "log"), tr.get("tensorboard_freq", 1),
                self.graph, self.start_step if self.mode == "restart" else None)

    # ------------------------------------------------------------------ loop
    def run(self) -> int:
        """Train until ``numb_steps``; returns the final global step."""
        if self.sess is None:
            self.setup()
        try:
            return self._loop()
        finally:
            self.close()

    def _loop(self) -> int:
        step = self.start_step
        self.lcurve = self._open_lcurve() if self.display else None
        self.checkpoints = CheckpointManager(
            self.saver, self.spec.training["save_ckpt"], self.spec.training["max_ckpt_keep"],
            keep_existing=self.mode == "restart")
        if step >= self.numb_steps:
            log.info("step %d already reached numb_steps = %d", step, self.numb_steps)
        first = self.mode != "restart"
        last_saved = step if self.mode == "restart" else None
        interval_start = time.perf_counter()
        while step < self.numb_steps:
            task = self.tasks[self.sampler.draw()]
            batch = task.train_data.get_batch()
            if first and self.display:
                self._display(step, task, batch)
            first = False
            self.current_step = step
            step = self._train_step(task, batch)
            if self.display and step % self.disp_freq == 0:
                self._log_interval(step, interval_start)
                self._display(step, task, batch)
                interval_start = time.perf_counter()
            if self.save_freq > 0 and step % self.save_freq == 0:
                saving = time.perf_counter()
                self._save(step)
                last_saved = step
                interval_start += time.perf_counter() - saving  # interval times are training only
            self.progress.update(step)
        if last_saved != step:
            self._save(step)
        log.info("%s", self.progress.summary(step, self._valid_seconds, self._save_seconds))
        return step

    def _train_step(self, task: hd.HeadTask, batch: dict) -> int:
        """One optimizer step of ``task``; returns the new global step.

        The loss, metrics and learning rate are fetched only on TensorBoard
        steps, and only the last step is traced (``profiling``); both go by
        :attr:`current_step`, the global step before the update (set by the
        loop; None: neither).
        """
        tf = get_tf()
        step = self.current_step
        start = time.perf_counter()
        feed = hd.head_feed(task, self.placeholders, batch)
        fetches = {"train": task.train_op, "step": self.global_step}
        if self.max_nnei is not None:
            fetches["max_nnei"] = self.max_nnei
        summary = (step is not None and self.tensorboard is not None
                   and self.tensorboard.due(step))
        if summary:
            fetches["summary"] = (task.loss_tensor, task.metrics, task.lr_tensor)
        trace = {}
        if self.profiling_file and step is not None and step + 1 == self.numb_steps:
            trace = {"options": tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE),
                     "run_metadata": tf.RunMetadata()}
        result = self.sess.run(fetches, feed, **trace)
        self.progress.add_step_time(time.perf_counter() - start)
        if self.max_nnei is not None:
            self._check_sel(task, batch, result["max_nnei"])
        if summary:
            loss, metrics, lr = result["summary"]
            values = {"loss": float(loss), **task.loss.finalize(metrics, batch),
                      "learning_rate": float(lr)}
            self.tensorboard.write(step, task.name, values)
        if trace:
            write_chrome_trace(trace["run_metadata"], self.profiling_file)
        return int(result["step"])

    def _check_sel(self, task: hd.HeadTask, batch: dict, max_nnei) -> None:
        """Warn once per system when neighbours beyond ``sel`` were dropped."""
        key = (task.name, int(batch.get("sys_idx", -1)))
        if key in self._warned_sel:
            return
        sel = self._sel
        seen = np.asarray(max_nnei).reshape(-1, sel.size).max(axis=0)
        if np.any(seen > sel):
            self._warned_sel.add(key)
            path = task.train_data.systems[key[1]].path if key[1] >= 0 else "?"
            self.progress.clear()
            log.warning("head %s, data system %s: up to %s neighbours per type within rcut "
                        "but sel = %s; the farthest neighbours are ignored (raise sel or "
                        "use sel: \"auto\")", task.name, path, seen.tolist(), sel.tolist())

    def _log_interval(self, step: int, start: float) -> None:
        if self.time_training and not self.progress.interactive:
            log.info("step %d: %.3f s since the previous record", step,
                     time.perf_counter() - start)

    # ------------------------------------------------------------------ output
    def _open_lcurve(self) -> LCurveWriter:
        shown = [t for t in self.tasks.values() if t.displayed]
        columns = [HeadColumns(t.name, t.loss.metric_names(), t.valid_data is not None)
                   for t in shown]
        schedules = {(t.lr.start_lr, getattr(t.lr, "stop_lr", None),
                      getattr(t.lr, "decay_steps", None), type(t.lr)) for t in shown}
        restart_step = self.start_step if self.mode == "restart" else None
        path = self.spec.training["disp_file"]
        try:
            return LCurveWriter(path, columns, self.spec.multi_task,
                                lr_per_head=len(schedules) > 1, restart_step=restart_step)
        except OSError as err:
            raise ConfigError(f"training/disp_file: cannot write the learning curve to "
                              f"{path!r}: {err.strerror}.") from None

    def _display(self, step: int, trained: hd.HeadTask, batch: dict) -> None:
        """Evaluate every displayed head and write one learning-curve record."""
        start = time.perf_counter()
        train, valid, lrs = {}, {}, {}
        for task in self.tasks.values():
            if not task.displayed:
                continue
            if self.spec.multi_task or task is not trained:
                trn_batch = task.train_data.get_batch()
            else:  # single task: the batch of this step (DeePMD-kit's choice)
                trn_batch = batch
            train[task.name] = hd.weighted_metrics(self.sess, task, self.placeholders,
                                                   [trn_batch])
            valid[task.name] = None
            if task.valid_data is not None:
                batches = [task.valid_data.get_batch()
                           for _ in range(task.valid_data.numb_btch)]
                valid[task.name] = hd.weighted_metrics(self.sess, task, self.placeholders,
                                                       batches)
            lrs[task.name] = task.lr.value(step)
        self.lcurve.write(step, train, valid, lrs)
        self.progress.report(step, train, valid)
        self._valid_seconds += time.perf_counter() - start

    def _save(self, step: int) -> None:
        start = time.perf_counter()
        self.state.head_rng = self.sampler.rng.bit_generator.state
        self.state.data_calls = {stream: [list(c) for c in data.calls]
                                 for stream, data in self._data_streams()}
        self.sess.run(self.state_assign, {self.state_input: self.state.to_json()})
        path = self.checkpoints.save(self.sess, step)
        self.progress.clear()
        log.info("saved checkpoint %s", os.path.relpath(path))
        self._save_seconds += time.perf_counter() - start

    def close(self) -> None:
        """Close the learning curve, the TensorBoard log and the session."""
        if getattr(self, "lcurve", None) is not None:
            self.lcurve.close()
            self.lcurve = None
        if self.tensorboard is not None:
            self.tensorboard.close()
            self.tensorboard = None
        if self.sess is not None:
            self.sess.close()
            self.sess = None


def _read_state_variable(prefix: str) -> Optional[TrainerState]:
    """The :class:`TrainerState` stored in a checkpoint (None if absent)."""
    tf = get_tf()
    try:
        reader = tf.train.load_checkpoint(prefix)
        if not reader.has_tensor(STATE_VARIABLE):
            return None
        return TrainerState.from_json(reader.get_tensor(STATE_VARIABLE))
    except (tf.errors.OpError, ValueError) as err:
        raise ModelFileError(f"cannot read checkpoint {prefix!r}: {err}") from None


def train(spec, script: dict, options: Optional[TrainOptions] = None) -> int:
    """Build a :class:`Trainer` and run it; returns the final step."""
    return Trainer(spec, script, options).run()
