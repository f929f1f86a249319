"""The computation of the thread-count test (``test_threads.py``).

Run as a script (``python thread_job.py NTHREADS OUT.npz WATER_DIR``) in a
fresh process whose OpenMP / TF thread counts are set by the environment, or
call :func:`compute` in-process.  Env matrix A and R, forces, virials and
the registered gradients on a 768-atom water box (the shipped frame tiled
2 x 2 x 1).
"""

import os
import sys

import numpy as np


def _water_box(water_dir):
    """coord ``[1, 768*3]``, sorted atype ``[768]``, box ``[1, 9]`` (Å)."""
    coord = np.load(os.path.join(water_dir, "set.000", "coord.npy"))[:1].astype(np.float64)
    box = np.load(os.path.join(water_dir, "set.000", "box.npy"))[:1].astype(np.float64).reshape(3, 3)
    atype = np.loadtxt(os.path.join(water_dir, "type.raw"), dtype=np.int32)
    shifts = np.array([[a, b, 0] for a in range(2) for b in range(2)], float) @ box
    coord = np.concatenate([coord.reshape(-1, 3) + s for s in shifts])
    atype = np.tile(atype, 4)
    order = np.argsort(atype, kind="stable")
    big_box = box * np.array([[2.0], [2.0], [1.0]])
    return coord[order].reshape(1, -1), atype[order], big_box.reshape(1, 9)


def _fetches(tf, coord, atype, box):
    from deepmt.op import graph as op_graph

    natoms = np.array([len(atype), len(atype), np.sum(atype == 0), np.sum(atype == 1)], np.int32)
    sel, fetch = [46, 92], {}
    for kind, fn, ncomp in (("a", op_graph.env_mat_a, 4), ("r", op_graph.env_mat_r, 1)):
        nd = sum(sel) * ncomp
        davg = np.linspace(-0.1, 0.1, 2 * nd).reshape(2, nd)
        dstd = np.linspace(0.5, 1.5, 2 * nd).reshape(2, nd)
        desc, deriv, rij, nlist, max_nnei = fn(
            tf.constant(coord), tf.constant(atype[None]), tf.constant(natoms), tf.constant(box),
            tf.constant(np.zeros(6, np.int32)), tf.constant(davg), tf.constant(dstd),
            rcut=6.0, rcut_smth=0.5, sel=sel)
        net = tf.sin(desc)
        force = op_graph.prod_force(net, deriv, nlist, tf.constant(natoms))
        virial, atom_virial = op_graph.prod_virial(net, deriv, rij, nlist, tf.constant(natoms))
        (gnet,) = tf.gradients(tf.reduce_sum(force * force) + tf.reduce_sum(virial * virial), [net])
        for name, t in (("descrpt", desc), ("deriv", deriv), ("rij", rij), ("nlist", nlist),
                        ("max_nnei", max_nnei), ("force", force), ("virial", virial),
                        ("atom_virial", atom_virial), ("grad_net", gnet)):
            fetch[f"{kind}_{name}"] = t
    return fetch


def compute(water_dir, nthreads):
    """All outputs as a dict of arrays, run with ``nthreads`` intra-op threads."""
    from deepmt.utils.tf_compat import get_tf

    tf = get_tf()
    coord, atype, box = _water_box(water_dir)
    with tf.Graph().as_default():
        fetch = _fetches(tf, coord, atype, box)
        config = tf.ConfigProto(intra_op_parallelism_threads=nthreads, inter_op_parallelism_threads=1)
        with tf.Session(config=config) as sess:
            return sess.run(fetch)


if __name__ == "__main__":
    np.savez(sys.argv[2], **compute(sys.argv[3], int(sys.argv[1])))
