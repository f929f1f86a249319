"""Helpers of the model tests: small systems, model sessions, NumPy nets.

Small configs (sel ~[16, 32], embedding [4, 8, 16], fitting [16, 16]) keep
every test to a few seconds on two cores.
"""

from __future__ import annotations

import copy

import numpy as np

from deepmt import keys
from deepmt.utils.tf_compat import get_tf

TYPE_MAP = ["O", "H"]
DESCRIPTOR = {"type": "se_e2_a", "sel": [16, 32], "rcut": 4.0, "rcut_smth": 1.0,
              "neuron": [4, 8, 16], "axis_neuron": 4, "seed": 11}
ENER = {"type": "ener", "neuron": [16, 16], "seed": 21}
DIPOLE = {"type": "dipole", "neuron": [16, 16], "sel_type": [0], "seed": 31}
POLAR = {"type": "polar", "neuron": [16, 16], "seed": 41}


def model_config(**descriptor_updates) -> dict:
    """The ``model`` section (descriptor only) with descriptor key overrides."""
    desc = copy.deepcopy(DESCRIPTOR)
    desc.update(descriptor_updates)
    if desc["type"] in ("se_e2_r", "se_r"):
        desc.pop("axis_neuron")
    return {"descriptor": desc, "data_stat_nbatch": 1, "data_stat_protect": 1e-2}


def random_system(rng, natoms=(3, 5), box_len=5.0, nframes=1, tilt=0.3):
    """Random periodic frames with atoms sorted by type.

    Returns
    -------
    coord ``nf x nat*3``, box ``nf x 9`` (triclinic), atype ``nat``.
    """
    atype = np.concatenate([np.full(n, t, dtype=np.int32) for t, n in enumerate(natoms)])
    nat = len(atype)
    box = np.diag([box_len, box_len * 1.05, box_len * 0.95])
    box[1, 0] = tilt
    box[2, 0], box[2, 1] = -tilt / 2, tilt / 3
    frac = rng.uniform(0.0, 1.0, (nframes, nat, 3))
    coord = (frac @ box).reshape(nframes, nat * 3)
    return coord, np.tile(box.reshape(1, 9), (nframes, 1)), atype


def make_batch(coord, box, atype, pbc=True, **labels) -> dict:
    """A batch dict as the data layer produces (atoms sorted by type)."""
    nf = coord.shape[0]
    ntypes = len(TYPE_MAP)
    counts = np.bincount(atype, minlength=ntypes)
    batch = {"coord": coord, "box": box, "type": np.tile(atype, (nf, 1)).astype(np.int32),
             "natoms_vec": np.array([len(atype), len(atype), *counts], dtype=np.int32),
             "pbc": pbc, "sys_idx": 0}
    for key, value in labels.items():
        batch[key] = value
        batch["find_" + key] = 1.0
    return batch


class ModelRunner:
    """A built model in its own graph and session, fed with NumPy frames."""

    def __init__(self, model, seed_graph: int = 0):
        tf = get_tf()
        self.model = model
        self.graph = tf.Graph()
        with self.graph.as_default():
            tf.set_random_seed(seed_graph)
            self.ph = model.make_placeholders()
            self.out = model.build(self.ph)
            self.sess = tf.Session(graph=self.graph)
            self.sess.run(tf.global_variables_initializer())

    def feed(self, coord, box, atype, pbc=True, fparam=None, aparam=None):
        nf = coord.shape[0]
        ntypes = self.model.ntypes
        counts = np.bincount(atype, minlength=ntypes)
        nat = len(atype)
        fd = {self.ph[keys.T_COORD]: coord.reshape(-1),
              self.ph[keys.T_TYPE]: np.tile(atype, nf),
              self.ph[keys.T_NATOMS]: np.array([nat, nat, *counts], dtype=np.int32),
              self.ph[keys.T_BOX]: (box if box is not None else np.zeros((nf, 9))).reshape(-1),
              self.ph[keys.T_MESH]: np.zeros(6 if pbc else 0, dtype=np.int32)}
        for head in self.model.heads:
            for key, value in ((keys.T_FPARAM, fparam), (keys.T_APARAM, aparam)):
                name = keys.head_node(head, key)
                if name in self.ph:
                    fd[self.ph[name]] = np.asarray(value).reshape(-1)
        return fd

    def run(self, fetches, coord, box, atype, **kwargs):
        return self.sess.run(fetches, self.feed(coord, box, atype, **kwargs))

    def var(self, name: str) -> np.ndarray:
        return self.sess.run(self.graph.get_tensor_by_name(name + ":0"))

    def close(self):
        self.sess.close()


def rotation(rng) -> np.ndarray:
    """A random proper rotation matrix."""
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


# --- NumPy re-implementations of the nets (test oracles) -------------------
def np_embedding(x, layers, act=np.tanh):
    """Embedding net with DeePMD-kit skip rules; ``layers`` = [(W, b, idt|None)]."""
    for w, b, idt in layers:
        h = act(x @ w + b)
        if idt is not None:
            h = h * idt
        if w.shape[1] == x.shape[1]:
            x = x + h
        elif w.shape[1] == 2 * x.shape[1]:
            x = np.concatenate([x, x], axis=1) + h
        else:
            x = h
    return x


def np_fitting(x, layers, act=np.tanh):
    """Fitting net: hidden layers with residual on equal widths, linear output."""
    prev = None
    for index, (w, b, idt) in enumerate(layers):
        last = index == len(layers) - 1
        y = x @ w + b
        if not last:
            y = act(y)
        if idt is not None:
            y = y * idt
        residual = (not last) and index > 0 and w.shape[1] == prev
        x = x + y if residual else y
        prev = w.shape[1]
    return x


def fitting_layers(runner, head, t, nlayer, prefix=None):
    """Variables of the type-``t`` fitting net of ``head`` as [(W, b, idt|None)]."""
    names = [f"layer_{i}_type_{t}" for i in range(nlayer - 1)] + [f"final_layer_type_{t}"]
    prefix = prefix or f"heads/{head}"
    out = []
    for name in names:
        scope = f"{prefix}/{name}"
        idt = None
        try:
            idt = runner.var(f"{scope}/idt")
        except KeyError:
            pass
        out.append((runner.var(f"{scope}/matrix"), runner.var(f"{scope}/bias"), idt))
    return out
