"""Time the deepmt ops: env-mat A + force + virial on periodic water.

The 192-atom water frame of ``tests/data/water_192`` is tiled 1x1x1, 2x2x2
and 4x4x4 (192, 1,536 and 12,288 atoms); each size runs ``DmtEnvMatA``,
``DmtProdForce`` and ``DmtProdVirial`` in one ``Session.run`` (rcut 6 Å,
rcut_smth 0.5 Å, sel [46, 92], a fixed ``net_deriv``). Printed: ms per
frame and µs per atom (median of the repeats).

``--deepmd-venv PATH`` runs the same calls through DeePMD-kit 2.2.11's ops
(``ProdEnvMatA``, ``ProdForceSeA``, ``ProdVirialSeA``) with that venv's
Python in a subprocess, prints the time ratio, and compares the outputs of
the smallest system. Both sides use ``--threads`` threads (OpenMP and
TensorFlow intra-op).

Usage::

    python bench/ops.py [--threads 1] [--repeat 5] [--sizes 1 2 4] [--deepmd-venv /work/venv-dp]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
WATER = ROOT / "tests" / "data" / "water_192"
RCUT, RCUT_SMTH, SEL = 6.0, 0.5, (46, 92)

# Runs in either venv: ``backend`` is "deepmt" or "deepmd"; reads the npz of
# systems, writes timings (and the outputs of the first system) to npz/json.
_WORKER = r'''
import json, os, sys, time
import numpy as np
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
backend, data_path, out_path, threads, repeat = sys.argv[1:6]
threads, repeat = int(threads), int(repeat)
data = np.load(data_path)
sel = [int(s) for s in data["sel"]]
rcut, rcut_smth = float(data["rcut"]), float(data["rcut_smth"])
if backend == "deepmt":
    from deepmt.utils.tf_compat import get_tf
    from deepmt.op import graph as ops
    tf = get_tf()
else:
    import tensorflow.compat.v1 as tf
    tf.disable_v2_behavior()
    from deepmd.env import op_module
nnei = sum(sel)
results, outputs = {}, {}
for key in sorted(k for k in data.files if k.startswith("coord_")):
    tag = key[len("coord_"):]
    coord, box, atype = data[key], data["box_" + tag], data["type_" + tag]
    nat = atype.shape[1]
    natoms = np.array([nat, nat] + [int(np.sum(atype[0] == t)) for t in range(len(sel))], np.int32)
    davg = np.zeros((len(sel), nnei * 4))
    dstd = np.ones((len(sel), nnei * 4))
    net = np.cos(np.arange(nat * nnei * 4) * 0.37).reshape(1, -1) * 1e-2
    g = tf.Graph()
    with g.as_default():
        c = tf.placeholder(tf.float64, [None, None]); t = tf.placeholder(tf.int32, [None, None])
        n = tf.placeholder(tf.int32, [None]); b = tf.placeholder(tf.float64, [None, None])
        m = tf.placeholder(tf.int32, [None]); nd = tf.placeholder(tf.float64, [None, None])
        if backend == "deepmt":
            em, emd, rij, nl, _ = ops.env_mat_a(c, t, n, b, m, davg, dstd, rcut=rcut, rcut_smth=rcut_smth, sel=sel)
            f = ops.prod_force(nd, emd, nl, n)
            v, av = ops.prod_virial(nd, emd, rij, nl, n)
        else:
            em, emd, rij, nl = op_module.prod_env_mat_a(c, t, n, b, m, davg, dstd, rcut_a=-1.0, rcut_r=rcut,
                                                        rcut_r_smth=rcut_smth, sel_a=sel, sel_r=[0] * len(sel))
            f = op_module.prod_force_se_a(nd, emd, nl, n, n_a_sel=nnei, n_r_sel=0)
            v, av = op_module.prod_virial_se_a(nd, emd, rij, nl, n, n_a_sel=nnei, n_r_sel=0)
    config = tf.ConfigProto(intra_op_parallelism_threads=threads, inter_op_parallelism_threads=1)
    with tf.Session(graph=g, config=config) as sess:
        feed = {c: coord, t: atype, n: natoms, b: box, m: np.zeros(6, np.int32), nd: net}
        fetch = [em, nl, f, v]
        for _ in range(2):
            vals = sess.run(fetch, feed_dict=feed)
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            sess.run(fetch, feed_dict=feed)
            times.append(time.perf_counter() - start)
    results[tag] = {"natoms": nat, "seconds": float(np.median(times))}
    if not outputs:
        outputs = {"descrpt": vals[0], "nlist": vals[1], "force": vals[2], "virial": vals[3]}
np.savez(out_path + ".npz", **outputs)
with open(out_path + ".json", "w") as fh:
    json.dump(results, fh)
'''


def load_water():
    """``coord [1, 576]``, ``box [1, 9]``, ``atype [192]`` of the first water frame."""
    coord = np.load(WATER / "set.000" / "coord.npy")[:1].astype(np.float64)
    box = np.load(WATER / "set.000" / "box.npy")[:1].astype(np.float64)
    atype = np.loadtxt(WATER / "type.raw", dtype=np.int32).reshape(-1)
    return coord, box, atype


def tile(coord, box, atype, reps: int):
    """A ``reps^3`` supercell, atoms sorted by type (stable) as in training."""
    h = box.reshape(3, 3)
    xyz = coord.reshape(-1, 3)
    shifts = np.array([[a, b, c] for a in range(reps) for b in range(reps) for c in range(reps)], float)
    big = (xyz[None, :, :] + (shifts @ h)[:, None, :]).reshape(-1, 3)
    types = np.tile(atype, len(shifts))
    order = np.argsort(types, kind="stable")
    return big[order].reshape(1, -1), (h * reps).reshape(1, 9), types[order].reshape(1, -1)


def run_worker(python: str, backend: str, data_path: str, threads: int, repeat: int):
    """Run the timing worker with ``python``; returns (timings, outputs)."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), TF_ENABLE_ONEDNN_OPTS="0")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "result")
        script = os.path.join(tmp, "worker.py")
        Path(script).write_text(_WORKER)
        proc = subprocess.run([python, script, backend, data_path, out, str(threads), str(repeat)],
                              env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"{backend} worker failed:\n{proc.stderr[-3000:]}")
        with open(out + ".json") as fh:
            timings = json.load(fh)
        outputs = dict(np.load(out + ".npz"))
    return timings, outputs


def report(name: str, timings: dict):
    print(f"{name}:")
    for tag in sorted(timings, key=lambda k: timings[k]["natoms"]):
        nat, sec = timings[tag]["natoms"], timings[tag]["seconds"]
        print(f"  {nat:6d} atoms  {sec * 1e3:9.2f} ms/frame  {sec * 1e6 / nat:7.2f} us/atom")


def compare(ours: dict, theirs: dict):
    """Largest differences between the deepmt and DeePMD-kit outputs."""
    same_nlist = np.array_equal(ours["nlist"], theirs["nlist"])
    print(f"  check (192 atoms): nlist identical: {same_nlist}; max |diff| descrpt "
          f"{np.abs(ours['descrpt'] - theirs['descrpt']).max():.2e}, force "
          f"{np.abs(ours['force'] - theirs['force']).max():.2e}, virial "
          f"{np.abs(ours['virial'] - theirs['virial']).max():.2e}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="threads for both backends")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per size (median)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 2, 4], help="supercell repeats")
    parser.add_argument("--deepmd-venv", help="venv with deepmd-kit 2.2.11 to compare with")
    args = parser.parse_args(argv)
    coord, box, atype = load_water()
    arrays = {"sel": np.array(SEL), "rcut": RCUT, "rcut_smth": RCUT_SMTH}
    for reps in args.sizes:
        c, b, t = tile(coord, box, atype, reps)
        tag = f"{t.shape[1]:06d}"
        arrays.update({f"coord_{tag}": c, f"box_{tag}": b, f"type_{tag}": t})
    with tempfile.TemporaryDirectory() as tmp:
        data_path = os.path.join(tmp, "systems.npz")
        np.savez(data_path, **arrays)
        ours, our_out = run_worker(sys.executable, "deepmt", data_path, args.threads, args.repeat)
        print(f"env-mat A + force + virial, rcut {RCUT}, sel {list(SEL)}, {args.threads} thread(s)")
        report("deepmt", ours)
        if args.deepmd_venv:
            python = str(Path(args.deepmd_venv) / "bin" / "python")
            theirs, their_out = run_worker(python, "deepmd", data_path, args.threads, args.repeat)
            report("deepmd-kit", theirs)
            for tag in sorted(ours, key=lambda k: ours[k]["natoms"]):
                ratio = ours[tag]["seconds"] / theirs[tag]["seconds"]
                print(f"  {ours[tag]['natoms']:6d} atoms: deepmt / deepmd-kit time = {ratio:.2f}")
            compare(our_out, their_out)


if __name__ == "__main__":
    main()
