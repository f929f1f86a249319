"""A small real deepmt model (se_e2_a + ener/dipole/polar heads built by
``deepmt.model.build_model`` on the compiled ops), checkpointed with a Saver.

The variables are nudged away from their initial values and the statistics
come from a random batch, so that normalisation and every weight take part.
"""

import os

import numpy as np

from deepmt import keys
from deepmt.utils.tf_compat import get_tf

TYPE_MAP = ["O", "H"]
MODEL = {"descriptor": {"type": "se_e2_a", "sel": [12, 24], "rcut": 4.0, "rcut_smth": 1.0,
                        "neuron": [4, 8], "axis_neuron": 4, "seed": 1},
         "data_stat_nbatch": 1, "data_stat_protect": 1e-2}
HEADS = {
    "water": {"type": "ener", "neuron": [8, 8], "seed": 2},
    "pbe": {"type": "ener", "neuron": [8, 8], "seed": 3, "numb_fparam": 1},
    "dip": {"type": "dipole", "neuron": [8, 8], "sel_type": [0], "seed": 4},
    "pol": {"type": "polar", "neuron": [8, 8], "sel_type": [0, 1], "seed": 5},
}


def water_frames(nframes=2, natoms=(2, 4), seed=0, box_len=4.5):
    """Random water-like periodic frames, atoms in a shuffled type order.

    Returns ``coord nf x nat x 3``, ``cell nf x 9`` (triclinic), ``atype nat``.
    """
    rng = np.random.default_rng(seed)
    atype = rng.permutation(np.repeat(np.arange(len(natoms)), natoms))
    box = np.diag([box_len, box_len * 1.05, box_len * 0.95])
    box[1, 0], box[2, 0], box[2, 1] = 0.3, -0.15, 0.1
    coord = rng.uniform(0.0, 1.0, (nframes, atype.size, 3)) @ box
    return coord, np.tile(box.reshape(1, 9), (nframes, 1)), atype


def _stat_batch(fparam_dim=0, seed=9):
    coord, cell, atype = water_frames(nframes=2, seed=seed)
    order = np.argsort(atype, kind="stable")
    counts = np.bincount(atype, minlength=len(TYPE_MAP))
    batch = {"coord": coord[:, order].reshape(2, -1), "box": cell,
             "type": np.tile(atype[order], (2, 1)).astype(np.int32),
             "natoms_vec": np.r_[atype.size, atype.size, counts].astype(np.int32),
             "pbc": True, "sys_idx": 0,
             "energy": np.array([[-1.0], [-1.2]]), "find_energy": 1.0,
             "atomic_polarizability": np.tile(np.eye(3).reshape(1, 9), (2, atype.size)),
             "find_atomic_polarizability": 1.0}
    if fparam_dim:
        batch.update(fparam=np.array([[0.2], [0.6]]), find_fparam=1.0)
    return batch


def write_real_checkpoint(folder):
    """Build, nudge and save the model; returns the checkpoint prefix."""
    from deepmt.model import build_model

    tf = get_tf()
    model = build_model(dict(MODEL), {k: dict(v) for k, v in HEADS.items()}, TYPE_MAP)
    model.compute_stats({head: [_stat_batch(fparam_dim=int(head == "pbe"))]
                         for head in HEADS})
    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(3)
        model.build(model.make_placeholders())
        rng = np.random.default_rng(5)
        nudge = tf.group(*[var.assign_add(0.05 * rng.normal(size=var.shape.as_list()))
                           for var in tf.trainable_variables()])
        saver = tf.train.Saver()
        with tf.Session(graph=graph) as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(nudge)
            return saver.save(sess, os.path.join(folder, "model.ckpt"), global_step=10)


def run_training_graph(prefix, coord, cell, atype, fetch, fparam=None):
    """Evaluate ``fetch`` (node names) in the restored training graph.

    Atoms are sorted by type here exactly as the inference API does.
    """
    tf = get_tf()
    order = np.argsort(atype, kind="stable")
    counts = np.bincount(atype, minlength=len(TYPE_MAP))
    nat, nf = atype.size, coord.shape[0]
    graph = tf.Graph()
    with graph.as_default():
        saver = tf.train.import_meta_graph(prefix + ".meta")
        with tf.Session(graph=graph) as sess:
            saver.restore(sess, prefix)
            feed = {keys.T_COORD + ":0": coord[:, order].reshape(-1),
                    keys.T_TYPE + ":0": np.tile(atype[order], nf),
                    keys.T_NATOMS + ":0": np.r_[nat, nat, counts],
                    keys.T_BOX + ":0": cell.reshape(-1),
                    keys.T_MESH + ":0": np.zeros(6, np.int32)}
            if fparam is not None:
                feed["heads/pbe/t_fparam:0"] = np.asarray(fparam).reshape(-1)
            return sess.run([name + ":0" for name in fetch], feed_dict=feed), order
