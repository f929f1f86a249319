"""Training benchmark: deepmt vs DeePMD-kit 2.2.11 on the water examples.

Runs ``deepmt train`` and (with ``--deepmd-venv``) DeePMD-kit's ``dp train``
on the same input — example input with absolute data paths, ``numb_steps``
replaced, same seeds — with identical thread settings, then prints a table:
final validation RMSEs from both learning curves, their ratio, and the
training time per step (each trainer's own per-interval timing, first
display interval excluded) and its ratio.

The multi-task example is reduced to heads DeePMD-kit 2.2.11 can train (no
polarizability head, no head of weight 0: energy + dipole for water) when a
DeePMD-kit venv is given; deepmt then trains the same reduced input.

Usage::

    python bench/train.py --steps 2000 --deepmd-venv /work/venv-dp
    python bench/train.py --example water_multi_task --steps 2000 --deepmd-venv /work/venv-dp
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (bench/ is not a package)

RMSE_TARGET = 1.10  # deepmt / DeePMD-kit validation RMSE must stay below
TIME_TARGET = 1.00  # time per step no worse ...
TIME_GOAL = 0.70    # ... and ideally 30% less
UNITS = {"rmse_e": "eV/atom", "rmse_f": "eV/A", "rmse_v": "eV/atom"}
LAYOUT = {"deepmt": "deepmt", "deepmd": "deepmd"}
LABEL = {"deepmt": "deepmt", "deepmd": "DeePMD-kit"}


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=2000,
                        help="numb_steps for both trainers (default 2000; fewer for speed only)")
    parser.add_argument("--deepmd-venv", type=Path, default=None,
                        help="DeePMD-kit 2.2.11 virtual environment (e.g. /work/venv-dp); "
                             "without it only deepmt is run")
    parser.add_argument("--example", choices=["water", "water_multi_task"], default="water")
    parser.add_argument("--threads", type=int, default=2,
                        help="OMP_NUM_THREADS and TF intra-op threads for both (default 2)")
    parser.add_argument("--inter-threads", type=int, default=1,
                        help="TF inter-op threads for both (default 1)")
    parser.add_argument("--disp-freq", type=int, default=None,
                        help="replace training/disp_freq (default: the example's, 100)")
    parser.add_argument("--seed", type=int, default=None,
                        help="replace the training seed and every model seed (both programs; "
                             "repeat with several seeds to see the run-to-run spread)")
    parser.add_argument("--tail", type=int, default=5,
                        help="also average the RMSEs over the last TAIL records (default 5)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where runs are kept (default: a new temporary folder)")
    parser.add_argument("--only", choices=["deepmt", "deepmd"], default=None,
                        help="run one program only (debugging)")
    parser.add_argument("--timeout", type=float, default=1800.0,
                        help="seconds allowed to each training process")
    return parser.parse_args(argv)


def prepare_input(args: argparse.Namespace) -> Dict:
    """The benchmark input: absolute paths, ``numb_steps``, DeePMD-kit-compatible heads."""
    config, base = common.load_example(args.example)
    config = common.absolutize_systems(config, base)
    config = common.set_steps(config, args.steps, args.disp_freq)
    if args.seed is not None:
        config = common.set_seed(config, args.seed)
    if "fitting_net_dict" in config["model"] and args.deepmd_venv is not None:
        config, dropped = common.dp_compatible_multitask(config)
        if dropped:
            print(f"heads dropped for DeePMD-kit 2.2.11 (both programs train the rest): "
                  f"{', '.join(dropped)}")
    disp = config["training"].get("disp_freq", 1000)
    if args.steps < 2 * disp:
        print(f"warning: {args.steps} steps < 2 x disp_freq {disp}: the time per step then "
              "includes the warm-up interval")
    return config


def train_one(program: str, config: Dict, folder: Path, args: argparse.Namespace) -> Dict:
    """Train with one program in ``folder``; wall time, timing and learning curve.

    Returns
    -------
    dict
        ``wall_s`` (whole process), ``s_per_step`` (trainer-reported, first
        interval excluded), ``intervals``, ``steps`` and ``lcurve``
        (``{head: {metric_split: list}}``).
    """
    folder.mkdir(parents=True, exist_ok=True)
    common.write_json(folder / "input.json", config)
    multi = "fitting_net_dict" in config["model"]
    extra = ["--skip-neighbor-stat"] if multi else []  # required by dp, kept equal for deepmt
    env = common.thread_env(args.threads, args.inter_threads)
    if program == "deepmt":
        cmd, env = common.deepmt_command("train", "input.json", *extra), common.deepmt_env(env)
    else:
        cmd = common.dp_command(args.deepmd_venv, "train", "input.json", *extra)
    print(f"[{LABEL[program]}] training {config['training']['numb_steps']} steps in {folder} ...",
          flush=True)
    load_before = common.load_average()
    wall = common.run_logged(cmd, folder, env, folder / "train.log", timeout=args.timeout)
    load_after = common.load_average()
    intervals = common.interval_times((folder / "train.log").read_text(encoding="utf-8"),
                                      program)
    heads = list(common.head_kinds(config))
    steps, table = common.lcurve_by_head(folder / "lcurve.out", heads, LAYOUT[program])
    per_step = common.seconds_per_step(intervals)
    print(f"[{LABEL[program]}] done: {wall:.1f} s wall, {1e3 * per_step:.2f} ms/step; "
          f"load average before {load_before}, after {load_after}", flush=True)
    return {"wall_s": wall, "s_per_step": per_step, "intervals": intervals,
            "load_average": [load_before, load_after],
            "steps": steps.tolist(),
            "lcurve": {h: {k: v.tolist() for k, v in cols.items()} for h, cols in table.items()}}


def _val_metrics(results: Dict[str, Dict], head: str) -> List[str]:
    """Validation metric columns of ``head`` present in some run, in file order.

    The total ``rmse_val`` (square root of the weighted loss) is left out
    when component RMSEs exist.
    """
    names: List[str] = []
    for res in results.values():
        for name in res["lcurve"].get(head, {}):
            if name.endswith("_val") and name not in names:
                names.append(name)
    return [n for n in names if n != "rmse_val"] if len(names) > 1 else names


def _summaries(values: Optional[List[float]], tail: int):
    """Last value and mean of the last ``tail`` values (NaN when missing)."""
    if not values:
        return math.nan, math.nan
    last = np.asarray(values, dtype=np.float64)[-tail:]
    mean = float(np.nanmean(last)) if np.isfinite(last).any() else math.nan
    return float(last[-1]), mean


def _verdict(value: float, target: float) -> str:
    if not math.isfinite(value):
        return ""
    return "ok" if value <= target else "MISS"


def report_rows(results: Dict[str, Dict], heads: Dict[str, str], tail: int) -> List[List]:
    """Table rows: one per (head, validation metric, last/mean) plus timing rows."""
    ours, theirs = results.get("deepmt"), results.get("deepmd")
    rows = []
    for head in heads:
        for metric in _val_metrics(results, head):
            a = _summaries(ours["lcurve"].get(head, {}).get(metric) if ours else None, tail)
            b = _summaries(theirs["lcurve"].get(head, {}).get(metric) if theirs else None, tail)
            if not any(math.isfinite(x) for x in a + b):
                continue  # no reference data for this metric (e.g. rmse_gl on atomic labels)
            unit = UNITS.get(metric[:-4], "label units")
            name = f"{head + ' ' if head else ''}{metric} [{unit}]"
            for which, x, y in (("last", a[0], b[0]), (f"mean last {tail}", a[1], b[1])):
                r = common.ratio(x, y)
                rows.append([f"{name} {which}", x, y, r, f"<= {RMSE_TARGET:.2f}",
                             _verdict(r, RMSE_TARGET)])
    t_ours = 1e3 * ours["s_per_step"] if ours else math.nan
    t_theirs = 1e3 * theirs["s_per_step"] if theirs else math.nan
    r = common.ratio(t_ours, t_theirs)
    rows.append(["time per step [ms]", t_ours, t_theirs, r,
                 f"<= {TIME_TARGET:.2f} (goal {TIME_GOAL:.2f})", _verdict(r, TIME_TARGET)])
    f_ours = 1e3 * common.fastest_interval(ours["intervals"]) if ours else math.nan
    f_theirs = 1e3 * common.fastest_interval(theirs["intervals"]) if theirs else math.nan
    rows.append(["time per step, fastest interval [ms]", f_ours, f_theirs,
                 common.ratio(f_ours, f_theirs), "", ""])
    w_ours = ours["wall_s"] if ours else math.nan
    w_theirs = theirs["wall_s"] if theirs else math.nan
    rows.append(["process wall time [s]", w_ours, w_theirs, common.ratio(w_ours, w_theirs),
                 "", ""])
    return rows


def main(argv: Optional[List[str]] = None) -> int:
    """Run the benchmark; 0 on success, 1 when a run failed."""
    args = parse_args(argv)
    if args.deepmd_venv is not None:
        common.check_dp_venv(args.deepmd_venv)
    programs = ["deepmt"] + (["deepmd"] if args.deepmd_venv is not None else [])
    if args.only:
        programs = [p for p in programs if p == args.only] or [args.only]
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="deepmt-bench-train-"))
    config = prepare_input(args)
    heads = common.head_kinds(config)
    results = {}
    try:
        for program in programs:
            results[program] = train_one(program, config, workdir / program, args)
    except common.BenchError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    seed = "example's seeds" if args.seed is None else f"seed {args.seed}"
    print(f"\n{args.example}: {args.steps} steps, {seed}, threads intra={args.threads} "
          f"inter={args.inter_threads}, runs in {workdir}")
    print(common.format_table(["quantity", "deepmt", "DeePMD-kit", "ratio", "target", ""],
                              report_rows(results, heads, args.tail)))
    summary = {"example": args.example, "steps": args.steps, "seed": args.seed,
               "threads": args.threads,
               "inter_threads": args.inter_threads, "heads": heads, "results": results}
    common.write_json(workdir / "results.json", summary)
    print(f"details: {workdir / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
