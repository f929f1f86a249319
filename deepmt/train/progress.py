"""Live training status: step, speed, ETA and the latest RMSEs per head.

On a terminal the status is one line rewritten in place (``\\r``) at most a
few times per second; otherwise (log file, pipe) a plain log line is written
at every display step.  A final summary gives the average time per step.

Optional outputs for later inspection: TensorBoard scalars of the training
batches (:class:`TensorBoardLog`) and a Chrome trace of one step
(:func:`write_chrome_trace`).
"""

from __future__ import annotations

import glob
import logging
import math
import os
import shutil
import sys
import time
from typing import Dict, Optional, TextIO

from deepmt.errors import ConfigError
from deepmt.utils.tf_compat import get_tf

log = logging.getLogger("deepmt.train")


def format_duration(seconds: float) -> str:
    """``H:MM:SS`` (or ``?`` when unknown)."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "?"
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _short_metrics(train: Optional[Dict[str, float]], valid: Optional[Dict[str, float]]) -> str:
    """``rmse_e 1.2e-03/1.4e-03`` (trn/val) for the component metrics."""
    if not train:
        return ""
    names = [n for n in train if n != "rmse"] or ["rmse"]
    parts = []
    for name in names:
        text = f"{name} {train[name]:.2e}"
        if valid and name in valid:
            text += f"/{valid[name]:.2e}"
        parts.append(text)
    return " ".join(parts)


class Progress:
    """Status reporter of one training run.

    Parameters
    ----------
    first_step, last_step
        Global step at the start of this run and the final step.
    stream
        Where the live line goes (default ``sys.stderr``).
    interactive
        Force (or forbid) the in-place line; default: ``stream.isatty()``.
    """

    min_interval = 0.25  # seconds between two redraws of the live line

    def __init__(self, first_step: int, last_step: int, stream: Optional[TextIO] = None,
                 interactive: Optional[bool] = None):
        self.stream = stream if stream is not None else sys.stderr
        if interactive is None:
            isatty = getattr(self.stream, "isatty", None)
            interactive = bool(isatty and isatty())
        self.interactive = interactive
        self.first_step = first_step
        self.last_step = last_step
        self.start = time.perf_counter()
        self.train_seconds = 0.0
        self.steps_done = 0
        self._last_draw = 0.0
        self._line_open = False
        self._metrics = ""

    def add_step_time(self, seconds: float) -> None:
        """Account one optimizer step that took ``seconds``."""
        self.train_seconds += seconds
        self.steps_done += 1

    def rate(self) -> float:
        """Optimizer steps per second of training time."""
        return self.steps_done / self.train_seconds if self.train_seconds > 0 else math.nan

    def status(self, step: int) -> str:
        """The status text for global step ``step``."""
        elapsed = time.perf_counter() - self.start
        done = step - self.first_step
        eta = (self.last_step - step) * elapsed / done if done > 0 else math.nan
        total = max(self.last_step, 1)
        rate = f"{self.rate():.1f}" if self.steps_done else "-"
        text = (f"step {step}/{self.last_step} ({100.0 * step / total:.0f}%) | "
                f"{rate} steps/s | ETA {format_duration(eta)}")
        return f"{text} | trn/val {self._metrics}" if self._metrics else text

    def update(self, step: int) -> None:
        """Redraw the live line (terminal only, rate-limited)."""
        if not self.interactive:
            return
        now = time.perf_counter()
        if now - self._last_draw < self.min_interval and step != self.last_step:
            return
        self._last_draw = now
        # a wrapped line could not be rewritten in place: cut it to the width
        width = shutil.get_terminal_size((120, 24)).columns - 1
        self.stream.write("\r" + self.status(step)[:max(width, 20)] + "\x1b[K")
        self.stream.flush()
        self._line_open = True

    def report(self, step: int, train: Dict[str, Dict[str, float]],
               valid: Dict[str, Optional[Dict[str, float]]]) -> None:
        """New metrics at a display step: kept for the live line, or logged."""
        parts = []
        for head, values in train.items():
            short = _short_metrics(values, valid.get(head))
            if short:
                parts.append(f"{head}: {short}" if len(train) > 1 else short)
        self._metrics = "; ".join(parts)
        if self.interactive:
            self._last_draw = 0.0
            self.update(step)
        else:
            log.info("%s", self.status(step))

    def clear(self) -> None:
        """End the live line so that a log message starts on a fresh line."""
        if self._line_open:
            self.stream.write("\n")
            self.stream.flush()
            self._line_open = False

    def summary(self, step: int, valid_seconds: float, save_seconds: float) -> str:
        """Final summary: steps, wall time, average time per step."""
        self.clear()
        wall = time.perf_counter() - self.start
        per_step = self.train_seconds / self.steps_done if self.steps_done else math.nan
        return (f"finished training at step {step}: {self.steps_done} steps in "
                f"{format_duration(wall)} wall time; average {1e3 * per_step:.2f} ms per "
                f"step (training only), {valid_seconds:.1f} s validation, "
                f"{save_seconds:.1f} s checkpoints")


#: file names of TensorFlow event files (the only files a new run removes)
EVENTS_PATTERN = "events.out.tfevents.*"


class TensorBoardLog:
    """Scalar summaries of the training batches, for TensorBoard.

    Written with ``tf.summary.FileWriter`` into one folder: the graph once,
    then at every ``freq``-th step the loss, the metrics (``rmse``,
    ``rmse_e``, ...) and the learning rate of the head trained at that step,
    tagged ``<head>/loss``, ``<head>/rmse_f``, ``<head>/learning_rate``. The
    values come from the forward pass of the step itself, so they cost no
    extra evaluation; a step's value is recorded under the step count before
    its update (the parameters it was evaluated with).

    Parameters
    ----------
    folder
        Log folder (``training/tensorboard_log_dir``), created if missing.
    freq
        Steps between two records (``training/tensorboard_freq``).
    graph
        The training graph, written once.
    start_step
        ``None`` for a new run: the event files of earlier runs in ``folder``
        are removed (other files are left alone). For a restart, the step it
        continues from: earlier event files are kept and TensorBoard is told
        to drop their records from that step on.
    """

    def __init__(self, folder: str, freq: int, graph, start_step: Optional[int] = None):
        tf = get_tf()
        self.freq = max(int(freq), 1)
        try:
            os.makedirs(folder, exist_ok=True)
            if start_step is None:
                for path in glob.glob(os.path.join(glob.escape(folder), EVENTS_PATTERN)):
                    if os.path.isfile(path):
                        os.remove(path)
            self.writer = tf.summary.FileWriter(folder, graph)
        except (OSError, tf.errors.OpError) as err:
            raise ConfigError(f"training/tensorboard_log_dir: cannot write TensorBoard logs "
                              f"to {folder!r}: {getattr(err, 'strerror', None) or err}.") from None
        if start_step is not None:
            self.writer.add_session_log(tf.SessionLog(status=tf.SessionLog.START), start_step)

    def due(self, step: int) -> bool:
        """True when the step that starts at global step ``step`` is recorded."""
        return step % self.freq == 0

    def write(self, step: int, head: str, values: Dict[str, float]) -> None:
        """One record: ``{name: value}`` tagged ``<head>/<name>``; NaN values
        (a metric whose label the batch lacks) are left out."""
        tf = get_tf()
        items = [tf.Summary.Value(tag=f"{head}/{name}", simple_value=float(value))
                 for name, value in values.items() if math.isfinite(value)]
        self.writer.add_summary(tf.Summary(value=items), step)

    def close(self) -> None:
        """Flush and close the event file."""
        self.writer.close()


def write_chrome_trace(run_metadata, path: str) -> None:
    """Write the step statistics of one ``Session.run`` as a Chrome trace.

    Parameters
    ----------
    run_metadata
        ``tf.RunMetadata`` filled by a run with ``trace_level=FULL_TRACE``.
    path
        Output JSON file (``training/profiling_file``); open it in
        ``chrome://tracing`` or Perfetto.
    """
    from tensorflow.python.client import timeline

    trace = timeline.Timeline(run_metadata.step_stats).generate_chrome_trace_format()
    try:
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(trace)
    except OSError as err:
        raise ConfigError(f"training/profiling_file: cannot write the trace to {path!r}: "
                          f"{err.strerror}.") from None
    log.info("wrote the Chrome trace of the last step to %s", path)
