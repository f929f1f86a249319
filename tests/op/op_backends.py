"""Two interchangeable backends for the op tests: the compiled ops and the oracle.

Physics tests (finite differences, invariances) take a ``backend`` and run
against both, so the same checks that validate the oracle also validate the
ops.  The op backend drives the graph wrappers of ``deepmt.op.graph``
through placeholders of unknown shape, one cached graph + session per
signature (kind, dtype, rcut, rcut_smth, sel), so each call is one
``Session.run``.  Outputs are NumPy arrays in the op layout with a leading
frame axis.
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence

import numpy as np

from reference import env_mat_np, prod_np
from reference.systems import natoms_vector


def pbc_mesh(pbc: bool) -> np.ndarray:
    """The contract's mesh: 6 zeros (PBC) or empty (no PBC), int32."""
    return np.zeros(6 if pbc else 0, dtype=np.int32)


def serialize_nlist(nloc: int, neighbor_list) -> np.ndarray:
    """``[nloc, 0 x15, ilist(nloc), numneigh(nloc), neighbours...]`` (int32), per the contract."""
    head = np.zeros(16, dtype=np.int64)
    head[0] = nloc
    numneigh = [len(n) for n in neighbor_list]
    flat = np.concatenate([np.asarray(n, dtype=np.int64) for n in neighbor_list]) if nloc else []
    return np.concatenate([head, np.arange(nloc), numneigh, flat]).astype(np.int32)


class OracleBackend:
    """The NumPy oracle behind the backend interface (float64 only)."""

    name = "oracle"

    def env_mat(self, coord, atype, box, *, rcut, rcut_smth, sel, davg=None, dstd=None,
                kind="a", nloc=None, neighbor_list=None, dtype=np.float64) -> Dict[str, np.ndarray]:
        return env_mat_np.env_mat(coord, atype, box, rcut=rcut, rcut_smth=rcut_smth, sel=sel,
                                  davg=davg, dstd=dstd, kind=kind, nloc=nloc,
                                  neighbor_list=neighbor_list)

    def prod_force(self, net_deriv, in_deriv, nlist, nloc, nall=None, dtype=np.float64):
        return prod_np.prod_force(net_deriv, in_deriv, nlist, nloc, nall)

    def prod_virial(self, net_deriv, in_deriv, rij, nlist, nloc, nall=None, dtype=np.float64):
        return prod_np.prod_virial(net_deriv, in_deriv, rij, nlist, nloc, nall)

    def prod_force_grad(self, grad, net_deriv, in_deriv, nlist, nloc, dtype=np.float64):
        return prod_np.prod_force_grad(grad, net_deriv, in_deriv, nlist, nloc)

    def prod_virial_grad(self, grad, net_deriv, in_deriv, rij, nlist, nloc, dtype=np.float64):
        return prod_np.prod_virial_grad(grad, net_deriv, in_deriv, rij, nlist, nloc)


class _Graph:
    """A graph, its session and named placeholders / fetches."""

    def __init__(self, build):
        from deepmt.utils.tf_compat import get_tf, session_config

        tf = get_tf()
        self.graph = tf.Graph()
        with self.graph.as_default():
            self.inputs, self.outputs = build(tf)
        self.session = tf.Session(graph=self.graph, config=session_config())

    def run(self, names: Sequence[str], feeds: Dict[str, np.ndarray]):
        fetches = [self.outputs[n] for n in names]
        feed = {self.inputs[k]: v for k, v in feeds.items()}
        return self.session.run(fetches, feed_dict=feed)


class OpBackend:
    """``deepmt.op`` through its graph wrappers (float64 or float32)."""

    name = "op"

    def __init__(self):
        import deepmt.op

        self.module = deepmt.op.load()
        self._graphs: Dict[tuple, _Graph] = {}

    # -- graphs ----------------------------------------------------------------
    def _env_graph(self, kind, dtype, rcut, rcut_smth, sel) -> _Graph:
        key = ("env", kind, np.dtype(dtype).name, float(rcut), float(rcut_smth), tuple(sel))
        if key not in self._graphs:
            self._graphs[key] = _Graph(lambda tf: self._build_env(tf, kind, dtype, rcut, rcut_smth, sel))
        return self._graphs[key]

    @staticmethod
    def _build_env(tf, kind, dtype, rcut, rcut_smth, sel):
        from deepmt.op import graph as op_graph

        tdt = tf.as_dtype(np.dtype(dtype))
        ph = {
            "coord": tf.placeholder(tdt, [None, None], name="coord"),
            "type": tf.placeholder(tf.int32, [None, None], name="type"),
            "natoms": tf.placeholder(tf.int32, [None], name="natoms"),
            "box": tf.placeholder(tdt, [None, None], name="box"),
            "mesh": tf.placeholder(tf.int32, [None], name="mesh"),
            "davg": tf.placeholder(tdt, [None, None], name="davg"),
            "dstd": tf.placeholder(tdt, [None, None], name="dstd"),
        }
        fn = op_graph.env_mat_a if kind == "a" else op_graph.env_mat_r
        outs = fn(ph["coord"], ph["type"], ph["natoms"], ph["box"], ph["mesh"], ph["davg"],
                  ph["dstd"], rcut=rcut, rcut_smth=rcut_smth, sel=list(sel))
        names = ("descrpt", "descrpt_deriv", "rij", "nlist", "max_nnei")
        return ph, dict(zip(names, outs))

    def _prod_graph(self, dtype) -> _Graph:
        key = ("prod", np.dtype(dtype).name)
        if key not in self._graphs:
            self._graphs[key] = _Graph(lambda tf: self._build_prod(tf, dtype))
        return self._graphs[key]

    def _build_prod(self, tf, dtype):
        from deepmt.op import graph as op_graph

        tdt = tf.as_dtype(np.dtype(dtype))
        ph = {name: tf.placeholder(tdt, [None, None], name=name)
              for name in ("net_deriv", "in_deriv", "rij", "grad_force", "grad_virial")}
        ph["nlist"] = tf.placeholder(tf.int32, [None, None], name="nlist")
        ph["natoms"] = tf.placeholder(tf.int32, [None], name="natoms")
        force = op_graph.prod_force(ph["net_deriv"], ph["in_deriv"], ph["nlist"], ph["natoms"])
        virial, atom_virial = op_graph.prod_virial(ph["net_deriv"], ph["in_deriv"], ph["rij"],
                                                   ph["nlist"], ph["natoms"])
        mod = self.module
        force_grad = mod.dmt_prod_force_grad(ph["grad_force"], ph["net_deriv"], ph["in_deriv"],
                                             ph["nlist"], ph["natoms"])
        virial_grad = mod.dmt_prod_virial_grad(ph["grad_virial"], ph["net_deriv"], ph["in_deriv"],
                                               ph["rij"], ph["nlist"], ph["natoms"])
        outs = {"force": force, "virial": virial, "atom_virial": atom_virial,
                "force_grad": force_grad, "virial_grad": virial_grad}
        return ph, outs

    # -- backend interface -----------------------------------------------------
    def env_mat(self, coord, atype, box, *, rcut, rcut_smth, sel, davg=None, dstd=None,
                kind="a", nloc=None, neighbor_list=None, dtype=np.float64) -> Dict[str, np.ndarray]:
        coord = np.asarray(coord, dtype=dtype)
        nf, nall = coord.shape[0], coord.shape[1] // 3
        atype = np.broadcast_to(np.asarray(atype, dtype=np.int32), (nf, nall))
        nloc = nall if nloc is None else nloc
        ntypes, ncomp = len(sel), (4 if kind == "a" else 1)
        ndesc = int(sum(sel)) * ncomp
        davg = np.zeros((ntypes, ndesc)) if davg is None else davg
        dstd = np.ones((ntypes, ndesc)) if dstd is None else dstd
        if neighbor_list is not None:
            mesh = serialize_nlist(nloc, neighbor_list)
        else:
            mesh = pbc_mesh(box is not None)
        feeds = {
            "coord": coord, "type": atype,
            "natoms": natoms_vector(atype[0], ntypes, nloc, nall),
            "box": np.zeros((nf, 9), dtype) if box is None else np.asarray(box, dtype=dtype),
            "mesh": mesh,
            "davg": np.asarray(davg, dtype=dtype), "dstd": np.asarray(dstd, dtype=dtype),
        }
        names = ["descrpt", "descrpt_deriv", "rij", "nlist", "max_nnei"]
        values = self._env_graph(kind, dtype, rcut, rcut_smth, sel).run(names, feeds)
        return dict(zip(names, values))

    def _prod_feeds(self, dtype, nloc, nall, nlist, **arrays):
        nf = np.shape(nlist)[0]
        feeds = {k: np.asarray(v, dtype=dtype) for k, v in arrays.items()}
        feeds["nlist"] = np.asarray(nlist, dtype=np.int32)
        feeds["natoms"] = np.array([nloc, nall if nall else nloc, nloc], dtype=np.int32)
        for name, width in (("rij", None), ("grad_force", nloc * 3), ("grad_virial", 9)):
            if name not in feeds:
                size = np.shape(nlist)[1] * 3 if width is None else width
                feeds[name] = np.zeros((nf, size), dtype)
        return feeds

    def prod_force(self, net_deriv, in_deriv, nlist, nloc, nall=None, dtype=np.float64):
        feeds = self._prod_feeds(dtype, nloc, nall, nlist, net_deriv=net_deriv, in_deriv=in_deriv)
        return self._prod_graph(dtype).run(["force"], feeds)[0]

    def prod_virial(self, net_deriv, in_deriv, rij, nlist, nloc, nall=None, dtype=np.float64):
        feeds = self._prod_feeds(dtype, nloc, nall, nlist, net_deriv=net_deriv,
                                 in_deriv=in_deriv, rij=rij)
        return tuple(self._prod_graph(dtype).run(["virial", "atom_virial"], feeds))

    def prod_force_grad(self, grad, net_deriv, in_deriv, nlist, nloc, dtype=np.float64):
        feeds = self._prod_feeds(dtype, nloc, nloc, nlist, net_deriv=net_deriv,
                                 in_deriv=in_deriv, grad_force=grad)
        return self._prod_graph(dtype).run(["force_grad"], feeds)[0]

    def prod_virial_grad(self, grad, net_deriv, in_deriv, rij, nlist, nloc, dtype=np.float64):
        feeds = self._prod_feeds(dtype, nloc, nloc, nlist, net_deriv=net_deriv,
                                 in_deriv=in_deriv, rij=rij, grad_virial=grad)
        return self._prod_graph(dtype).run(["virial_grad"], feeds)[0]


_OP_BACKEND: Optional[OpBackend] = None


def op_backend() -> OpBackend:
    """The process-wide op backend (graphs are cached across tests)."""
    global _OP_BACKEND
    if _OP_BACKEND is None:
        _OP_BACKEND = OpBackend()
    return _OP_BACKEND
