"""Inference benchmark: ``DeepPot.eval`` of deepmt vs DeePMD-kit 2.2.11.

Times one-frame ``DeepPot.eval`` on periodic water of 192, 1,536 and
12,288 atoms (a frame of ``examples/data/water/ener/data_0`` tiled 1x1x1,
2x2x2 and 4x4x4 with its cell) and reports ms per call and µs per atom,
averaged over several calls after warm-up calls, for

* deepmt and DeePMD-kit on models of the same architecture (the single-task
  water example, trained a few steps by each program and frozen, unless
  ``--model`` / ``--dp-model`` are given), and their ratio;
* one energy head of a three-head deepmt file vs the single-head file
  frozen from the same checkpoint with ``deepmt freeze --head``.

deepmt and DeePMD-kit are timed in separate subprocesses (DeePMD-kit with
the interpreter of its venv) with identical thread settings; the 3-head and
single-head files share one process and alternate call by call.
``--rounds R`` repeats all timings R times, alternating the processes, and
pools the calls, which steadies the numbers on a shared machine.

Usage::

    python bench/infer.py --deepmd-venv /work/venv-dp
    python bench/infer.py --model water.pb --dp-model dp_water.pb --deepmd-venv /work/venv-dp
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (bench/ is not a package)

MARKER = "BENCH_RESULT "
SPEED_TARGET = 0.5      # deepmt time per atom at most half of DeePMD-kit's
HEAD_TARGET = 1.0       # one head of a 3-head file no slower than a 1-head file
HEAD_TOLERANCE = 1.05   # timing noise accepted before calling it slower


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command-line options (``--worker`` is internal: time one model, print JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deepmd-venv", type=Path, default=None,
                        help="DeePMD-kit 2.2.11 virtual environment (e.g. /work/venv-dp)")
    parser.add_argument("--model", type=Path, default=None,
                        help="deepmt single-task water model (default: train + freeze one)")
    parser.add_argument("--dp-model", type=Path, default=None,
                        help="DeePMD-kit water model (default: train + freeze one)")
    parser.add_argument("--multi-model", type=Path, default=None,
                        help="deepmt three-head water model (default: train + freeze one)")
    parser.add_argument("--head-model", type=Path, default=None,
                        help="single-head file of --multi-model's energy head "
                             "(default: deepmt freeze --head)")
    parser.add_argument("--head", default="water_ener", help="energy head of the 3-head file")
    parser.add_argument("--sizes", default="1,2,4",
                        help="supercell factors n (n^3 x 192 atoms), comma-separated")
    parser.add_argument("--reps", default="20,10,3",
                        help="timed calls per size, comma-separated (default 20,10,3)")
    parser.add_argument("--warmup", type=int, default=1,
                        help="untimed calls per size (default 1)")
    parser.add_argument("--threads", type=int, default=2,
                        help="OMP_NUM_THREADS and TF intra-op threads (default 2)")
    parser.add_argument("--inter-threads", type=int, default=1, help="TF inter-op threads")
    parser.add_argument("--train-steps", type=int, default=20,
                        help="steps for the models trained here (only the architecture matters)")
    parser.add_argument("--skip-multi", action="store_true",
                        help="skip the 3-head vs single-head comparison")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where models and logs go (default: a new temporary folder)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="repeat all timings this many times, alternating the programs, "
                             "and pool the calls (steadier on a shared machine)")
    parser.add_argument("--worker", choices=["deepmt", "deepmd"], help=argparse.SUPPRESS)
    parser.add_argument("--worker-model", nargs="+", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--worker-head", nargs="+", default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _int_list(text: str) -> List[int]:
    return [int(x) for x in text.split(",") if x.strip()]


# ------------------------------------------------------------------ worker
def _evaluator(program: str, model: Path, head: Optional[str]):
    if program == "deepmt":
        from deepmt.infer import DeepPot
        return DeepPot(str(model), head=head)
    from deepmd.infer import DeepPot  # DeePMD-kit's venv only
    return DeepPot(str(model))


def time_models(evaluators: List, sizes: List[int], reps: List[int], warmup: int
                ) -> List[List[Dict]]:
    """Time ``eval`` of several evaluators on tiled water, alternating calls.

    Calls of the evaluators are interleaved (A, B, A, B, ...) so that a
    change of load on a shared machine affects them alike.

    Returns
    -------
    list of list of dict
        Per evaluator, per size: ``n``, ``natoms``, ``times`` (s per timed
        call) and ``energy`` (eV) of its last call.
    """
    coord, cell, types = common.water_frame()
    out: List[List[Dict]] = [[] for _ in evaluators]
    for n, count in zip(sizes, reps):
        big, box, atype = common.tile(coord, cell, types, n)
        big, box = big.reshape(1, -1), box.reshape(1, 9)
        times: List[List[float]] = [[] for _ in evaluators]
        energy = [math.nan] * len(evaluators)
        for call in range(warmup + count):
            for k, evaluator in enumerate(evaluators):
                start = time.perf_counter()
                energy[k] = float(np.asarray(evaluator.eval(big, box, atype)[0]).ravel()[0])
                if call >= warmup:
                    times[k].append(time.perf_counter() - start)
        for k in range(len(evaluators)):
            out[k].append({"n": n, "natoms": int(atype.size), "times": times[k],
                           "energy": energy[k]})
    return out


def worker(args: argparse.Namespace) -> int:
    """Time the given models in this process; prints one ``BENCH_RESULT`` JSON line."""
    sizes, reps = _int_list(args.sizes), _int_list(args.reps)
    if len(reps) < len(sizes):
        reps += [reps[-1]] * (len(sizes) - len(reps))
    heads = args.worker_head or ["-"] * len(args.worker_model)
    evaluators, load_s = [], []
    for model, head in zip(args.worker_model, heads):
        start = time.perf_counter()
        evaluators.append(_evaluator(args.worker, model, None if head == "-" else head))
        load_s.append(time.perf_counter() - start)
    timed = time_models(evaluators, sizes, reps, args.warmup)
    result = [{"load_s": t, "sizes": s} for t, s in zip(load_s, timed)]
    print(MARKER + json.dumps(result), flush=True)
    return 0


def run_worker(program: str, models: List[Path], heads: List[Optional[str]],
               args: argparse.Namespace, log: Path) -> List[Dict]:
    """Time ``models`` (alternating) in a fresh subprocess of the right interpreter."""
    env = common.thread_env(args.threads, args.inter_threads)
    if program == "deepmt":
        python, env = sys.executable, common.deepmt_env(env)
    else:
        python = str(args.deepmd_venv / "bin" / "python")
    cmd = [python, str(Path(__file__).resolve()), "--worker", program,
           "--worker-model", *map(str, models), "--worker-head", *[h or "-" for h in heads],
           "--sizes", args.sizes, "--reps", args.reps, "--warmup", str(args.warmup)]
    names = ", ".join(f"{m.name}{' head ' + h if h else ''}" for m, h in zip(models, heads))
    print(f"timing {names} ({program}) ...", flush=True)
    common.run_logged(cmd, log.parent, env, log, timeout=1800)
    for line in log.read_text(encoding="utf-8").splitlines():
        if line.startswith(MARKER):
            return json.loads(line[len(MARKER):])
    raise common.BenchError(f"worker printed no result; see {log}")


def _merge(old: Optional[Dict], new: Dict) -> Dict:
    """Append the call times of a further round to a model's result."""
    if old is None:
        return {"load_s": [new["load_s"]], "sizes": new["sizes"]}
    old["load_s"].append(new["load_s"])
    for entry, more in zip(old["sizes"], new["sizes"]):
        entry["times"] += more["times"]
    return old


def time_all(models: Dict[str, Path], args: argparse.Namespace, workdir: Path) -> Dict:
    """Time every model, ``--rounds`` times, alternating the subprocesses.

    deepmt and DeePMD-kit run in separate processes one after the other;
    the 3-head file and the single-head file share one process and
    alternate call by call.
    """
    jobs = [("deepmt", ["deepmt"], [None])]
    if "deepmd" in models:
        jobs.append(("deepmd", ["deepmd"], [None]))
    if "multi" in models:
        jobs.append(("deepmt", ["multi", "head"], [args.head, None]))
    results: Dict[str, Dict] = {}
    for rnd in range(args.rounds):
        for program, names, heads in jobs:
            log = workdir / f"time_{'_'.join(names)}_{rnd}.log"
            found = run_worker(program, [models[n].resolve() for n in names], heads, args, log)
            for name, res in zip(names, found):
                results[name] = _merge(results.get(name), res)
    return results


# ------------------------------------------------------------------ models
def _train_freeze(program: str, example: str, folder: Path, args: argparse.Namespace,
                  freezes: Dict[str, Optional[str]]) -> Dict[str, Path]:
    """Train ``example`` for a few steps with ``program`` and freeze it.

    ``freezes`` maps output file name -> head (None: every head).
    """
    config, base = common.load_example(example)
    config = common.set_steps(common.absolutize_systems(config, base), args.train_steps,
                              disp_freq=args.train_steps)
    folder.mkdir(parents=True, exist_ok=True)
    common.write_json(folder / "input.json", config)
    env = common.thread_env(args.threads, args.inter_threads)
    if program == "deepmt":
        env = common.deepmt_env(env)
        make = common.deepmt_command
    else:
        def make(*a):
            return common.dp_command(args.deepmd_venv, *a)
    print(f"training {example} for {args.train_steps} steps with {program} in {folder} ...",
          flush=True)
    common.run_logged(make("train", "input.json", "--skip-neighbor-stat"), folder, env,
                      folder / "train.log", timeout=1800)
    paths = {}
    for name, head in freezes.items():
        extra = ["--head", head] if head else []
        common.run_logged(make("freeze", "-o", name, *extra), folder, env,
                          folder / f"freeze_{Path(name).stem}.log", timeout=600)
        paths[name] = folder / name
    return paths


def ensure_models(args: argparse.Namespace, workdir: Path) -> Dict[str, Path]:
    """Model files to time: given on the command line or trained here."""
    models = {}
    models["deepmt"] = args.model or _train_freeze(
        "deepmt", "water", workdir / "deepmt_water", args, {"model.pb": None})["model.pb"]
    if args.deepmd_venv is not None:
        models["deepmd"] = args.dp_model or _train_freeze(
            "deepmd", "water", workdir / "dp_water", args, {"model.pb": None})["model.pb"]
    if not args.skip_multi:
        if args.multi_model is None:
            made = _train_freeze("deepmt", "water_multi_task", workdir / "deepmt_multi", args,
                                 {"multi.pb": None, "head.pb": args.head})
            models["multi"], models["head"] = made["multi.pb"], made["head.pb"]
        else:
            models["multi"] = args.multi_model
            if args.head_model is None:
                raise common.BenchError(
                    "--multi-model needs --head-model (the single-head file frozen from the "
                    f"same checkpoint with `deepmt freeze --head {args.head}`)")
            models["head"] = args.head_model
    return models


# ------------------------------------------------------------------ report
def _stats(entry: Dict) -> Dict[str, float]:
    """Mean ms per call, mean µs per atom and fastest call (ms) of one size."""
    times = np.asarray(entry["times"])
    mean = float(times.mean()) if times.size else math.nan
    return {"ms": 1e3 * mean, "us_atom": 1e6 * mean / entry["natoms"],
            "min_ms": 1e3 * float(times.min()) if times.size else math.nan}


def speed_rows(ours: Dict, theirs: Optional[Dict]) -> List[List]:
    """Rows of the deepmt vs DeePMD-kit table, one per system size."""
    rows = []
    for i, entry in enumerate(ours["sizes"]):
        a = _stats(entry)
        b = _stats(theirs["sizes"][i]) if theirs else dict.fromkeys(a, math.nan)
        r = common.ratio(a["us_atom"], b["us_atom"])
        verdict = "" if not math.isfinite(r) else ("ok" if r <= SPEED_TARGET else "MISS")
        rows.append([entry["natoms"], len(entry["times"]), a["ms"], a["us_atom"], b["ms"],
                     b["us_atom"], r, common.ratio(a["min_ms"], b["min_ms"]),
                     f"<= {SPEED_TARGET}", verdict])
    return rows


def head_rows(multi: Dict, single: Dict) -> List[List]:
    """Rows of the 3-head file vs single-head file table."""
    rows = []
    for m, s in zip(multi["sizes"], single["sizes"]):
        a, b = _stats(m), _stats(s)
        r = common.ratio(a["us_atom"], b["us_atom"])
        verdict = "" if not math.isfinite(r) else (
            "ok" if r <= HEAD_TARGET * HEAD_TOLERANCE else "MISS")
        same = abs(m["energy"] - s["energy"]) <= 1e-8 * max(1.0, abs(s["energy"]))
        rows.append([m["natoms"], a["ms"], a["us_atom"], b["ms"], b["us_atom"], r,
                     common.ratio(a["min_ms"], b["min_ms"]), "yes" if same else "NO", verdict])
    return rows


def tiling_check(result: Dict) -> float:
    """Largest relative deviation of the energy per atom across supercells.

    A periodic supercell holds identical local environments, so the energy
    per atom must not depend on the tiling (checks the tiling and the
    periodic neighbour search).
    """
    per_atom = np.array([e["energy"] / e["natoms"] for e in result["sizes"]])
    return float(np.max(np.abs(per_atom - per_atom[0])) / max(abs(per_atom[0]), 1e-300))


def print_report(results: Dict[str, Dict], args: argparse.Namespace, workdir: Path) -> None:
    """Print both tables and the tiling check."""
    print(f"\nDeepPot.eval, one frame of periodic water; threads intra={args.threads} "
          f"inter={args.inter_threads}; warm-up {args.warmup} call(s) per size and process; "
          f"{args.rounds} round(s); runs in {workdir}")
    print(common.format_table(
        ["atoms", "calls", "deepmt ms", "deepmt us/atom", "DeePMD-kit ms",
         "DeePMD-kit us/atom", "ratio", "ratio of min", "target", ""],
        speed_rows(results["deepmt"], results.get("deepmd"))))
    if "multi" in results:
        print(f"\none head ({args.head}) of the 3-head file vs the single-head file "
              "(same checkpoint):")
        print(common.format_table(
            ["atoms", "3-head ms", "3-head us/atom", "1-head ms", "1-head us/atom", "ratio",
             "ratio of min", "same E",
             f"<= {HEAD_TARGET} (+{100 * (HEAD_TOLERANCE - 1):.0f}% noise)"],
            head_rows(results["multi"], results["head"])))
    for name, res in results.items():
        print(f"tiling check {name}: max relative change of E/atom across sizes "
              f"{tiling_check(res):.1e}; model load {min(res['load_s']):.2f} s")


def main(argv: Optional[List[str]] = None) -> int:
    """Run the benchmark; 0 on success, 1 when a step failed."""
    args = parse_args(argv)
    if args.worker:
        return worker(args)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="deepmt-bench-infer-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        if args.deepmd_venv is not None:
            common.check_dp_venv(args.deepmd_venv)
        models = ensure_models(args, workdir)
        results = time_all(models, args, workdir)
    except common.BenchError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print_report(results, args, workdir)
    common.write_json(workdir / "results.json",
                      {"threads": args.threads, "inter_threads": args.inter_threads,
                       "models": {k: str(v) for k, v in models.items()}, "results": results})
    print(f"details: {workdir / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
