"""A small multi-head training graph made of plain TF ops, following the
frozen-graph node contract of ``deepmt.keys``, checkpointed and frozen.

The fake "model": a smooth pair descriptor ``D_i = sum_j exp(-r_ij^2/4) e_{t_j}``
(type embedding ``e``, minimum image under PBC) shared by every head; an
energy head ``E_i = tanh(D_i W + fparam Wf + aparam_i Wa) v + b_{t_i}``; a
dipole head ``mu_i = a(D_i) sum_j exp(-r_ij^2/4) r_ij`` and a polar head
``alpha_i = a(D_i) I + c(D_i) u_i u_i^T`` on atoms of the selected types.
Forces are ``-dE/dr``; the virial is ``sum_i r_i (x) F_i`` (its exact
definition does not matter to the inference layer).
"""

import json
import os

import numpy as np

from deepmt import keys
from deepmt.utils.tf_compat import get_tf

TYPE_MAP = ["O", "H", "C"]
HEADS = {
    "water": {"type": "ener", "sel_type": [], "output_dim": 1, "dim_fparam": 0, "dim_aparam": 0},
    "Dip": {"type": "dipole", "sel_type": [0], "output_dim": 3, "dim_fparam": 0, "dim_aparam": 0},
    "pol": {"type": "polar", "sel_type": [0, 2], "output_dim": 9, "dim_fparam": 0,
            "dim_aparam": 0},
    "param": {"type": "ener", "sel_type": [], "output_dim": 1, "dim_fparam": 2, "dim_aparam": 1},
}
WIDTH = 6


def _pair_vectors(tf, coord, box, mesh):
    """``nf x nat x nat x 3`` vectors r_j - r_i (minimum image with PBC)."""
    diff = coord[:, None, :, :] - coord[:, :, None, :]

    def periodic():
        cell = tf.reshape(box, [-1, 3, 3])
        frac = tf.einsum("fijk,fkl->fijl", diff, tf.linalg.inv(cell))
        frac = frac - tf.stop_gradient(tf.round(frac))
        return tf.einsum("fijl,flk->fijk", frac, cell)

    return tf.cond(tf.size(mesh) > 0, periodic, lambda: diff)


def _derivatives(tf, scalar_sum, coord, rvec, name_prefix, odim):
    """Force ``nf x odim x nat x 3`` and virials for each output component."""
    forces = [-tf.gradients(scalar_sum[c], coord)[0] for c in range(odim)]
    force = tf.stack(forces, axis=1)
    atom_virial = tf.einsum("fia,fcib->fciab", rvec, force)
    nf = tf.shape(coord)[0]
    tf.identity(tf.reshape(force, [nf, -1]), name=f"{name_prefix}/{keys.O_FORCE}")
    tf.identity(tf.reshape(tf.reduce_sum(atom_virial, 2), [nf, -1]),
                name=f"{name_prefix}/{keys.O_VIRIAL}")
    tf.identity(tf.reshape(atom_virial, [nf, -1]), name=f"{name_prefix}/{keys.O_ATOM_VIRIAL}")


def _energy_head(tf, name, info, descrpt, atype, coord, natoms):
    scope = keys.head_scope(name)
    nf = tf.shape(coord)[0]
    weight = tf.get_variable(f"{scope}/layer_0/matrix", [WIDTH, 5], tf.float64)
    out = tf.get_variable(f"{scope}/final_layer/matrix", [5, 1], tf.float64)
    bias = tf.get_variable(f"{scope}/fitting_attr/t_bias_atom_e", [len(TYPE_MAP)], tf.float64,
                           trainable=False)
    hidden = tf.einsum("fim,mh->fih", descrpt, weight)
    if info["dim_fparam"]:
        fparam = tf.placeholder(tf.float64, [None], name=keys.head_node(name, keys.T_FPARAM))
        wf = tf.get_variable(f"{scope}/layer_0/fparam", [info["dim_fparam"], 5], tf.float64)
        hidden += tf.matmul(tf.reshape(fparam, [nf, -1]), wf)[:, None, :]
    if info["dim_aparam"]:
        aparam = tf.placeholder(tf.float64, [None], name=keys.head_node(name, keys.T_APARAM))
        wa = tf.get_variable(f"{scope}/layer_0/aparam", [info["dim_aparam"], 5], tf.float64)
        hidden += tf.einsum("fia,ah->fih", tf.reshape(aparam, [nf, natoms, -1]), wa)
    atom_e = tf.einsum("fih,ho->fi", tf.tanh(hidden), out) + tf.gather(bias, atype)
    energy = tf.reduce_sum(atom_e, axis=1)
    tf.identity(energy, name=keys.head_node(name, keys.O_ENERGY))
    tf.identity(atom_e, name=keys.head_node(name, keys.O_ATOM_ENERGY))
    force = -tf.gradients(tf.reduce_sum(energy), coord)[0]
    atom_virial = tf.einsum("fia,fib->fiab", coord, force)
    tf.identity(tf.reshape(force, [nf, -1]), name=keys.head_node(name, keys.O_FORCE))
    tf.identity(tf.reshape(tf.reduce_sum(atom_virial, 1), [nf, 9]),
                name=keys.head_node(name, keys.O_VIRIAL))
    tf.identity(tf.reshape(atom_virial, [nf, -1]), name=keys.head_node(name, keys.O_ATOM_VIRIAL))
    return energy


def _tensor_head(tf, name, info, descrpt, atype, coord, weights_ij, rvec_ij):
    scope = keys.head_scope(name)
    nf = tf.shape(coord)[0]
    amp = tf.get_variable(f"{scope}/layer_0/matrix", [WIDTH, 2], tf.float64)
    coef = tf.tanh(tf.einsum("fim,mk->fik", descrpt, amp))  # nf x nat x 2
    vec = tf.einsum("fij,fija->fia", weights_ij, rvec_ij)     # nf x nat x 3
    if info["type"] == "dipole":
        atomic = coef[..., :1] * vec
    else:
        outer = tf.einsum("fia,fib->fiab", vec, vec)
        atomic = tf.reshape(coef[..., :1, None] * tf.eye(3, dtype=tf.float64)
                            + coef[..., 1:, None] * outer, [nf, -1, 9])
    sel = tf.constant(info["sel_type"], dtype=tf.int32)
    mask = tf.reduce_any(tf.equal(atype[0][:, None], sel[None, :]), axis=1)
    picked = tf.gather(atomic, tf.where(mask)[:, 0], axis=1)  # nf x nsel x odim
    glob = tf.reduce_sum(picked, axis=1)
    atomic_name, global_name = ((keys.O_DIPOLE, keys.O_GLOBAL_DIPOLE) if info["type"] == "dipole"
                                else (keys.O_POLAR, keys.O_GLOBAL_POLAR))
    tf.identity(tf.reshape(picked, [nf, -1]), name=keys.head_node(name, atomic_name))
    tf.identity(glob, name=keys.head_node(name, global_name))
    sums = [tf.reduce_sum(glob[:, c]) for c in range(info["output_dim"])]
    _derivatives(tf, sums, coord, coord, scope, info["output_dim"])
    return glob


def build_training_graph(heads=HEADS):
    """Build the fake multi-head graph in the current default graph.

    Returns the training op (Adam on a made-up loss, so that the checkpoint
    holds optimiser slots and label placeholders the freezer must drop).
    """
    tf = get_tf()
    ntypes = len(TYPE_MAP)
    t_coord = tf.placeholder(tf.float64, [None], name=keys.T_COORD)
    t_type = tf.placeholder(tf.int32, [None], name=keys.T_TYPE)
    t_natoms = tf.placeholder(tf.int32, [ntypes + 2], name=keys.T_NATOMS)
    t_box = tf.placeholder(tf.float64, [None], name=keys.T_BOX)
    t_mesh = tf.placeholder(tf.int32, [None], name=keys.T_MESH)
    natoms = t_natoms[0]
    coord = tf.reshape(t_coord, [-1, natoms, 3])
    atype = tf.reshape(t_type, [-1, natoms])
    rvec = _pair_vectors(tf, coord, t_box, t_mesh)
    eye = tf.eye(natoms, dtype=tf.float64)
    weights = tf.exp(-tf.reduce_sum(rvec * rvec, -1) / 4.0) * (1.0 - eye)
    embed = tf.get_variable("descriptor/type_embed", [ntypes, WIDTH], tf.float64)
    descrpt = tf.einsum("fij,fjm->fim", weights, tf.gather(embed, atype))
    tf.identity(descrpt, name=keys.O_DESCRIPTOR)
    tf.constant(4.0, dtype=tf.float64, name=keys.DESCRPT_RCUT)
    tf.constant(ntypes, dtype=tf.int32, name=keys.DESCRPT_NTYPES)
    tf.constant([4, 6, 2], dtype=tf.int32, name=keys.DESCRPT_SEL)
    tf.constant(" ".join(TYPE_MAP), name=keys.TYPE_MAP)
    tf.constant(json.dumps({"model": "fake"}), name=keys.ATTR_TRAINING_SCRIPT)
    meta = {"format": keys.FORMAT, "version": "0.1.0", "model_version": keys.MODEL_VERSION,
            "type_map": TYPE_MAP,
            "rcut": 4.0, "sel": [4, 6, 2], "descriptor": {"type": "fake", "width": WIDTH},
            "heads": heads, "default_head": next(iter(heads))}
    tf.constant(json.dumps(meta), name=keys.ATTR_METADATA)
    loss = tf.constant(0.0, dtype=tf.float64)
    for name, info in heads.items():
        if info["type"] == "ener":
            out = _energy_head(tf, name, info, descrpt, atype, coord, natoms)
        else:
            out = _tensor_head(tf, name, info, descrpt, atype, coord, weights, rvec)
        label = tf.placeholder(tf.float64, [None], name=f"label_{name}")
        loss += tf.reduce_sum((tf.reshape(out, [-1]) - label) ** 2)
    return tf.train.AdamOptimizer(1e-2).minimize(loss)


def random_frames(nframes=3, natoms=7, seed=0, periodic=True):
    """Random frames with atoms in a deliberately unsorted type order."""
    rng = np.random.default_rng(seed)
    atype = rng.permutation(np.arange(natoms) % len(TYPE_MAP))
    coord = rng.uniform(0.0, 5.0, size=(nframes, natoms, 3))
    cell = None
    if periodic:
        cell = np.tile((np.eye(3) * 5.0 + rng.uniform(-0.3, 0.3, (3, 3))).reshape(1, 9),
                       (nframes, 1))
    return coord, cell, atype


def _train_feed(heads, seed=1):
    coord, cell, atype = random_frames(2, 6, seed=seed)
    order = np.argsort(atype, kind="stable")
    counts = np.bincount(atype, minlength=len(TYPE_MAP))
    feed = {
        "t_coord:0": coord[:, order].reshape(-1), "t_type:0": np.tile(atype[order], 2),
        "t_natoms:0": np.r_[6, 6, counts], "t_box:0": cell.reshape(-1),
        "t_mesh:0": np.zeros(6, np.int32),
    }
    for name, info in heads.items():
        width = {"ener": 1}.get(info["type"], info["output_dim"])
        feed[f"label_{name}:0"] = np.ones(2 * width)
        if info["dim_fparam"]:
            feed[f"heads/{name}/t_fparam:0"] = np.ones(2 * info["dim_fparam"])
        if info["dim_aparam"]:
            feed[f"heads/{name}/t_aparam:0"] = np.ones(2 * 6 * info["dim_aparam"])
    return feed


def write_checkpoint(folder, heads=HEADS, steps=2):
    """Build, train a few Adam steps and save ``folder/model.ckpt-<steps>``."""
    tf = get_tf()
    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(7)
        train_op = build_training_graph(heads)
        saver = tf.train.Saver()
        with tf.Session(graph=graph) as sess:
            sess.run(tf.global_variables_initializer())
            for _ in range(steps):
                sess.run(train_op, feed_dict=_train_feed(heads))
            saver.save(sess, os.path.join(folder, "model.ckpt"), global_step=steps)
    return os.path.join(folder, f"model.ckpt-{steps}")


def frozen_constants(path):
    """``{node name: array}`` of the float constants of a frozen graph."""
    from deepmt.infer.model_file import read_graph_def

    tf = get_tf()
    return {node.name: tf.make_ndarray(node.attr["value"].tensor)
            for node in read_graph_def(path).node
            if node.op == "Const" and node.attr["dtype"].type == tf.float64.as_datatype_enum}


def _reference_descriptor(weights, coord, cell, atype):
    """NumPy fake descriptor: pair vectors, pair weights and ``nf x nat x width``."""
    diff = coord[:, None, :, :] - coord[:, :, None, :]
    if cell is not None:
        box = np.asarray(cell).reshape(-1, 3, 3)
        frac = np.einsum("fijk,fkl->fijl", diff, np.linalg.inv(box))
        diff = np.einsum("fijl,flk->fijk", frac - np.round(frac), box)
    pair = np.exp(-np.sum(diff * diff, -1) / 4.0) * (1.0 - np.eye(len(atype)))
    descrpt = np.einsum("fij,jm->fim", pair, weights["descriptor/type_embed"][atype])
    return diff, pair, descrpt


def reference_energy(weights, head, coord, cell, atype, fparam=None, aparam=None):
    """NumPy re-implementation of the fake energy head: ``nf`` energies, ``nf x nat`` atomic."""
    coord = np.asarray(coord).reshape(-1, len(atype), 3)
    _, _, descrpt = _reference_descriptor(weights, coord, cell, atype)
    scope = f"heads/{head}"
    hidden = descrpt @ weights[f"{scope}/layer_0/matrix"]
    if fparam is not None:
        hidden += (np.asarray(fparam).reshape(coord.shape[0], -1)
                   @ weights[f"{scope}/layer_0/fparam"])[:, None, :]
    if aparam is not None:
        hidden += np.asarray(aparam).reshape(coord.shape[0], len(atype), -1) @ weights[
            f"{scope}/layer_0/aparam"]
    atom_e = (np.tanh(hidden) @ weights[f"{scope}/final_layer/matrix"])[..., 0]
    atom_e = atom_e + weights[f"{scope}/fitting_attr/t_bias_atom_e"][atype]
    return atom_e.sum(axis=1), atom_e


def reference_tensor(weights, head, coord, cell, atype):
    """NumPy fake tensor head: ``nf x nsel x odim`` atomic values, atoms in input order."""
    info = HEADS[head]
    coord = np.asarray(coord).reshape(-1, len(atype), 3)
    diff, pair, descrpt = _reference_descriptor(weights, coord, cell, atype)
    coef = np.tanh(descrpt @ weights[f"heads/{head}/layer_0/matrix"])
    vec = np.einsum("fij,fija->fia", pair, diff)
    if info["type"] == "dipole":
        atomic = coef[..., :1] * vec
    else:
        outer = np.einsum("fia,fib->fiab", vec, vec)
        atomic = (coef[..., :1, None] * np.eye(3) + coef[..., 1:, None] * outer)
        atomic = atomic.reshape(coord.shape[0], -1, 9)
    return atomic[:, np.isin(atype, info["sel_type"])]
