"""Helpers shared by the deepmt vs DeePMD-kit benchmarks.

Only the standard library and NumPy are used here, so that the same module
can be imported by the DeePMD-kit worker (run by the interpreter of the
DeePMD-kit virtual environment, which has no deepmt).

Both programs are always run as subprocesses with the same environment:
thread settings (``OMP_NUM_THREADS``, ``TF_INTRA_OP_PARALLELISM_THREADS``,
``TF_INTER_OP_PARALLELISM_THREADS``) are set by :func:`thread_env`; any other
variable (``TF_ENABLE_ONEDNN_OPTS`` for instance) is inherited unchanged.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
WATER_DATA = EXAMPLES / "data" / "water"
DEFAULT_DP_VENV = Path("/work/venv-dp")


class BenchError(RuntimeError):
    """A benchmark step failed; the message says which and where its log is."""


# ----------------------------------------------------------------- processes
def thread_env(threads: int, inter_threads: int = 1) -> Dict[str, str]:
    """Environment for both programs with identical thread settings.

    Parameters
    ----------
    threads
        Intra-op threads (also ``OMP_NUM_THREADS``); 0 lets TF choose.
    inter_threads
        Inter-op threads; 0 lets TF choose.
    """
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(threads)
    env["TF_INTRA_OP_PARALLELISM_THREADS"] = str(threads)
    env["TF_INTER_OP_PARALLELISM_THREADS"] = str(inter_threads)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def deepmt_env(env: Dict[str, str]) -> Dict[str, str]:
    """``env`` with the repository first on ``PYTHONPATH`` (works uninstalled too)."""
    env = dict(env)
    old = env.get("PYTHONPATH", "")
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + old if old else "")
    return env


def deepmt_command(*args: str) -> List[str]:
    """Command line of ``deepmt ARGS`` with the current interpreter."""
    return [sys.executable, "-m", "deepmt.entrypoints.main", *args]


def dp_command(venv: Path, *args: str) -> List[str]:
    """Command line of DeePMD-kit's ``dp ARGS`` from its virtual environment."""
    return [str(Path(venv) / "bin" / "dp"), *args]


def check_dp_venv(venv: Path) -> None:
    """Raise :class:`BenchError` unless ``venv`` holds DeePMD-kit's ``dp``."""
    if not (Path(venv) / "bin" / "dp").exists():
        raise BenchError(
            f"no DeePMD-kit found in {venv}: {venv}/bin/dp does not exist. Create it with "
            f"`python3 -m venv {venv} && {venv}/bin/pip install deepmd-kit==2.2.11 "
            f"tensorflow-cpu==2.16.2 tf-keras==2.16.0 \"numpy<2\"` or pass --deepmd-venv.")


def run_logged(cmd: Sequence[str], cwd: Path, env: Dict[str, str], log: Path,
               timeout: Optional[float] = None) -> float:
    """Run ``cmd`` with stdout and stderr written to ``log``.

    Returns
    -------
    float
        Wall time of the whole process, s.

    Raises
    ------
    BenchError
        Non-zero exit status or timeout; the message holds the log's tail.
    """
    start = time.perf_counter()
    with open(log, "w", encoding="utf-8") as handle:
        handle.write(f"# load average before: {load_average()}\n")
        handle.write("$ " + " ".join(map(str, cmd)) + "\n")
        handle.flush()
        try:
            proc = subprocess.run(list(map(str, cmd)), cwd=str(cwd), env=env, stdout=handle,
                                  stderr=subprocess.STDOUT, timeout=timeout, check=False)
            code = proc.returncode
        except subprocess.TimeoutExpired:
            code = "timeout"
    wall = time.perf_counter() - start
    if code != 0:
        tail = "".join(Path(log).read_text(encoding="utf-8", errors="replace")
                       .splitlines(keepends=True)[-25:])
        raise BenchError(f"`{' '.join(map(str, cmd[:3]))} ...` in {cwd} failed "
                         f"(exit {code}); full log: {log}\n--- last lines ---\n{tail}")
    return wall


def load_average() -> str:
    """The 1/5/15-minute load averages (the machine may be shared), or ``?``."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


# ------------------------------------------------------------------- inputs
def load_example(name: str) -> Tuple[dict, Path]:
    """The example input ``examples/<name>/input.json`` and its folder."""
    folder = EXAMPLES / name
    path = folder / "input.json"
    if not path.exists():
        raise BenchError(f"example input {path} not found (choose water or water_multi_task)")
    return json.loads(path.read_text(encoding="utf-8")), folder


def _data_sections(config: dict) -> Iterable[dict]:
    training = config["training"]
    if "data_dict" in training:
        for entry in training["data_dict"].values():
            yield from (entry[k] for k in ("training_data", "validation_data") if entry.get(k))
    else:
        yield from (training[k] for k in ("training_data", "validation_data")
                    if training.get(k))


def absolutize_systems(config: dict, base: Path) -> dict:
    """Copy of ``config`` whose data ``systems`` are absolute paths.

    Relative paths are resolved against ``base`` (the example's folder), so
    the input can be run from any working directory.
    """
    config = copy.deepcopy(config)
    for section in _data_sections(config):
        systems = section["systems"]
        if isinstance(systems, str):
            section["systems"] = str((base / systems).resolve())
        else:
            section["systems"] = [str((base / s).resolve()) for s in systems]
    return config


def set_steps(config: dict, steps: int, disp_freq: Optional[int] = None) -> dict:
    """Copy of ``config`` with ``numb_steps = steps``.

    ``save_freq`` is set to ``steps`` so that no checkpoint is written inside
    the timed training loop (deepmt would count it in the next interval,
    DeePMD-kit would not); ``disp_freq`` is replaced when given.
    """
    config = copy.deepcopy(config)
    training = config["training"]
    training["numb_steps"] = int(steps)
    training["save_freq"] = int(steps)
    if disp_freq is not None:
        training["disp_freq"] = int(disp_freq)
    training["disp_file"] = "lcurve.out"
    return config


def set_seed(config: dict, seed: int) -> dict:
    """Copy of ``config`` with ``seed`` as the training seed and every model seed.

    Used to repeat a benchmark with other random streams (initial weights,
    data order) and so estimate the run-to-run spread of the RMSEs.
    """
    config = copy.deepcopy(config)
    config["training"]["seed"] = int(seed)
    model = config["model"]
    fittings = model.get("fitting_net_dict") or {"": model.get("fitting_net", {})}
    for section in [model.get("descriptor", {}), *fittings.values()]:
        section["seed"] = int(seed)
    return config


def head_kinds(config: dict) -> Dict[str, str]:
    """Head name -> fitting type; a single-task input has one head ``""``."""
    model = config["model"]
    if "fitting_net_dict" in model:
        return {k: v.get("type", "ener") for k, v in model["fitting_net_dict"].items()}
    return {"": model.get("fitting_net", {}).get("type", "ener")}


def dp_compatible_multitask(config: dict) -> Tuple[dict, List[str]]:
    """A multi-task input DeePMD-kit 2.2.11 can train, and the heads dropped.

    DeePMD-kit 2.2.11 cannot train a polarizability head whose global-label
    batches hold more than one frame, and crashes on a head whose
    ``fitting_weight`` is 0 or that has no data.  Those heads are removed
    from every per-head section (for the water example this leaves the
    energy + dipole pair of DeePMD-kit's ``examples/water_multi_task/ener_dipole``).
    """
    config = copy.deepcopy(config)
    model, training = config["model"], config["training"]
    weights = training.get("fitting_weight") or {}
    dropped = []
    for head, fit in list(model["fitting_net_dict"].items()):
        weight = weights.get(head, 1.0) if weights else 1.0
        no_data = head not in training.get("data_dict", {})
        if fit.get("type", "ener") == "polar" or not weight or weight <= 0 or no_data:
            dropped.append(head)
    for head in dropped:
        for section in (model["fitting_net_dict"], config.get("loss_dict", {}),
                        config.get("learning_rate_dict", {}), training.get("data_dict", {}),
                        weights):
            section.pop(head, None)
    if not model["fitting_net_dict"]:
        raise BenchError("no head of the multi-task input is trainable by DeePMD-kit 2.2.11")
    return config, dropped


def write_json(path: Path, data: dict) -> None:
    """Write ``data`` as indented JSON."""
    Path(path).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


# ------------------------------------------------------------------ lcurve
def _is_number(token: str) -> bool:
    try:
        float(token)
        return True
    except ValueError:
        return False


def read_lcurve(path: Path) -> Tuple[List[str], np.ndarray]:
    """Column names and values of a learning curve.

    Reads the three layouts: single-task (one line per record), deepmt
    multi-task (one line per record, ``<metric>_<split>_<head>``) and
    DeePMD-kit 2.2 multi-task (one physical line per head per record, the
    header spread over as many lines, the step only on the first).  Header
    tokens are gathered up to the first numeric line; the numbers of all
    following non-comment lines are then cut into records of that length.

    Returns
    -------
    names
        ``["step", ...]`` column names in file order.
    values
        ``nrecords x ncolumns`` float64.
    """
    names: List[str] = []
    numbers: List[float] = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        tokens = line.lstrip("#").split()
        if not tokens or line.startswith("# If"):
            continue
        if not numbers and not all(_is_number(t) for t in tokens):
            names += tokens
        elif not line.startswith("#"):
            numbers += [float(t) for t in tokens]
    if not names or names[0] != "step":
        raise BenchError(f"{path}: no learning-curve header starting with 'step'")
    if len(numbers) % len(names):
        numbers = numbers[:len(numbers) - len(numbers) % len(names)]  # partial last record
    return names, np.asarray(numbers, dtype=np.float64).reshape(-1, len(names))


def split_column(name: str, heads: Sequence[str], layout: str) -> Tuple[str, str]:
    """``(head, metric_split)`` of one lcurve column.

    ``layout`` is ``"deepmt"`` (head as suffix) or ``"deepmd"`` (head as
    prefix); a column without a head (single task, shared ``lr``) gets ``""``.
    """
    for head in sorted((h for h in heads if h), key=len, reverse=True):
        if layout == "deepmd" and name.startswith(head + "_"):
            return head, name[len(head) + 1:]
        if layout == "deepmt" and name.endswith("_" + head):
            return head, name[:-len(head) - 1]
    return "", name


def lcurve_by_head(path: Path, heads: Sequence[str], layout: str
                   ) -> Tuple[np.ndarray, Dict[str, Dict[str, np.ndarray]]]:
    """Steps and ``{head: {metric_split: values}}`` of a learning curve.

    A column without a head (single task, or deepmt's shared ``lr``) is
    given to every head of ``heads``.
    """
    names, values = read_lcurve(path)
    table: Dict[str, Dict[str, np.ndarray]] = {h: {} for h in heads}
    for col, name in enumerate(names[1:], start=1):
        head, metric = split_column(name, heads, layout)
        for target in ([head] if head else heads):
            table.setdefault(target, {})[metric] = values[:, col]
    return values[:, 0], table


# ------------------------------------------------------------------ timing
_INTERVAL_PATTERNS = {
    # deepmt: "step 200: 12.345 s since the previous record"
    "deepmt": re.compile(r"step (\d+): ([0-9.eE+-]+) s since the previous record"),
    # DeePMD-kit: "batch     200 training time 12.34 s, testing time ..."
    "deepmd": re.compile(r"batch\s+(\d+) training time ([0-9.eE+-]+) s"),
}


def interval_times(log_text: str, program: str) -> List[Tuple[int, float]]:
    """``(step, seconds)`` of each display interval reported by a trainer."""
    pattern = _INTERVAL_PATTERNS[program]
    return [(int(m.group(1)), float(m.group(2))) for m in pattern.finditer(log_text)]


def seconds_per_step(intervals: Sequence[Tuple[int, float]]) -> float:
    """Training time per step, the first display interval excluded.

    The first interval holds graph warm-up (first session runs); the rest
    is divided by the number of steps it covers.  With a single interval
    it is used as is.  NaN when the trainer reported no interval.
    """
    if not intervals:
        return math.nan
    if len(intervals) == 1:
        step, seconds = intervals[0]
        return seconds / step if step > 0 else math.nan
    steps = intervals[-1][0] - intervals[0][0]
    return sum(sec for _, sec in intervals[1:]) / steps


def fastest_interval(intervals: Sequence[Tuple[int, float]]) -> float:
    """Seconds per step of the fastest display interval after the first.

    On a shared machine this is the least disturbed by other jobs.
    """
    rates = [(sec / (step - prev)) for (prev, _), (step, sec) in zip(intervals, intervals[1:])
             if step > prev]
    return min(rates) if rates else seconds_per_step(intervals)


# ------------------------------------------------------------------ output
def ratio(ours: float, theirs: float) -> float:
    """``ours / theirs`` (NaN when either is missing or ``theirs`` is 0)."""
    if not (math.isfinite(ours) and math.isfinite(theirs)) or theirs == 0:
        return math.nan
    return ours / theirs


def format_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Plain-text table; floats in ``%.4g``, NaN as ``-``."""
    def cell(value):
        if isinstance(value, float):
            return "-" if math.isnan(value) else f"{value:.4g}"
        return str(value)

    text_rows = [[cell(v) for v in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in text_rows)) if text_rows else len(str(h))
              for i, h in enumerate(header)]
    lines = ["  ".join(str(h).ljust(w) for h, w in zip(header, widths)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in text_rows]
    return "\n".join(lines)


# ------------------------------------------------------------- structures
def water_frame(system: Path = WATER_DATA / "ener" / "data_0", frame: int = 0
                ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One frame of a water system: ``coord [nat, 3]`` Å, ``cell [3, 3]`` Å, ``types [nat]``."""
    coord = np.load(system / "set.000" / "coord.npy")[frame].reshape(-1, 3)
    cell = np.load(system / "set.000" / "box.npy")[frame].reshape(3, 3)
    types = np.loadtxt(system / "type.raw", dtype=np.int64).reshape(-1)
    return coord, cell, types


def tile(coord: np.ndarray, cell: np.ndarray, types: np.ndarray, n: int
         ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Periodic ``n x n x n`` supercell.

    Parameters
    ----------
    coord
        ``nat x 3`` Å.
    cell
        ``3 x 3`` Å, rows are cell vectors.
    types
        ``nat`` type ids.

    Returns
    -------
    coord, cell, types
        ``n^3 nat x 3``, ``3 x 3`` (``n * cell``), ``n^3 nat``.
    """
    shifts = np.array([(i, j, k) for i in range(n) for j in range(n) for k in range(n)],
                      dtype=np.float64) @ cell  # n^3 x 3
    big = (shifts[:, None, :] + coord[None, :, :]).reshape(-1, 3)
    return big, cell * n, np.tile(types, n ** 3)
