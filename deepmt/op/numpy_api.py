"""NumPy-level access to the deepmt ops.

Each function runs the op in its own ``tf.Graph`` and ``Session``, built
once per signature (operation, dtype, ``sel``, ``rcut``, ...) and cached, so
repeated calls cost one ``Session.run``. The dtype follows ``coord`` (or
``net_deriv``): float32 stays float32, anything else becomes float64.
Mistakes raise :class:`deepmt.errors.InputError`.
"""

from __future__ import annotations

import threading
from typing import Dict, Optional, Sequence

import numpy as np

from deepmt.errors import InputError

_CACHE: Dict[tuple, "_Runner"] = {}
_CACHE_LOCK = threading.Lock()
_MESH_HEADER = 16


def make_mesh(pbc: bool) -> np.ndarray:
    """The ``mesh`` input of the environment-matrix ops for built-in search.

    Returns an int32 array of length 6 (periodic: images built by the op) or
    0 (open boundaries); only the length matters.
    """
    return np.zeros(6 if pbc else 0, dtype=np.int32)


def serialize_nlist(nloc: int, neighbor_list: Sequence[Sequence[int]]) -> np.ndarray:
    """Pack an external neighbour list into a ``mesh`` longer than 16.

    Parameters
    ----------
    nloc
        Number of local atoms (centres).
    neighbor_list
        ``nloc`` integer sequences: neighbours of local atom ``i`` as indices
        into the extended atoms (local first, then ghosts). Order and extra
        atoms beyond ``rcut`` do not matter: the op filters and sorts.

    Returns
    -------
    numpy.ndarray
        int32 ``[nloc, 0 x 15, ilist(nloc), numneigh(nloc), neighbours...]``.
    """
    if len(neighbor_list) != nloc:
        raise InputError(
            f"neighbor_list has {len(neighbor_list)} entries but nloc is {nloc}; "
            "give one list of neighbour indices per local atom"
        )
    lists = [np.asarray(n, dtype=np.int64).reshape(-1) for n in neighbor_list]
    header = np.zeros(_MESH_HEADER, dtype=np.int32)
    header[0] = nloc
    ilist = np.arange(nloc, dtype=np.int32)
    numneigh = np.array([len(n) for n in lists], dtype=np.int32)
    body = np.concatenate(lists).astype(np.int32) if lists else np.zeros(0, np.int32)
    return np.concatenate([header, ilist, numneigh, body]).astype(np.int32)


def op_error_message(exc) -> str:
    """The op's own message inside a TensorFlow ``OpError``, as one paragraph.

    TF wraps kernel errors in "Graph execution error ... Detected at node"
    and a Python stack; this keeps the lines after the last ``Node:`` line
    (the kernel's message) and drops the ``[[{{node ...}}]]`` trailer.
    """
    lines = str(getattr(exc, "message", exc)).splitlines()
    marks = [k for k, line in enumerate(lines) if line.startswith("Node: ")]
    if marks:
        lines = lines[marks[-1] + 1:]
    kept = [line.strip() for line in lines if line.strip() and not line.strip().startswith("[[")]
    return " ".join(kept)


class _Runner:
    """A graph, its placeholders and outputs, and a session running them."""

    def __init__(self, build):
        from deepmt.utils.tf_compat import get_tf, session_config

        tf = get_tf()
        self.graph = tf.Graph()
        with self.graph.as_default():
            self.inputs, self.outputs = build(tf)
        self.session = tf.Session(graph=self.graph, config=session_config())
        self.lock = threading.Lock()

    def run(self, what: str, feed: dict) -> dict:
        from deepmt.utils.tf_compat import get_tf

        tf = get_tf()
        feed_dict = {self.inputs[k]: v for k, v in feed.items()}
        try:
            with self.lock:
                values = self.session.run(self.outputs, feed_dict=feed_dict)
        except (tf.errors.InvalidArgumentError, tf.errors.ResourceExhaustedError) as exc:
            raise InputError(f"{what}: {op_error_message(exc)}") from exc
        return dict(values)


def _runner(key: tuple, build) -> _Runner:
    with _CACHE_LOCK:
        runner = _CACHE.get(key)
        if runner is None:
            runner = _CACHE[key] = _Runner(build)
    return runner


def _float_dtype(array: np.ndarray):
    return np.float32 if array.dtype == np.float32 else np.float64


def _frames(name: str, array, dtype, width_multiple: int = 1) -> np.ndarray:
    """``array`` as a 2-D ``nf x width`` array of ``dtype``."""
    out = np.asarray(array, dtype=dtype)
    if out.ndim == 1:
        out = out.reshape(1, -1)
    elif out.ndim > 2:
        out = out.reshape(out.shape[0], -1)
    if out.shape[1] % width_multiple:
        raise InputError(f"{name} has {out.shape[1]} columns per frame, not a multiple of {width_multiple}")
    return out


def _env_inputs(coord, atype, box, ncomp, sel, davg, dstd, nloc, neighbor_list):
    """Validated feed of an environment-matrix op (see env_mat_a)."""
    coord = np.asarray(coord)
    coord = _frames("coord", coord, _float_dtype(coord), 3)
    dtype = coord.dtype
    nf, nat = coord.shape[0], coord.shape[1] // 3
    atype = np.asarray(atype)
    if not np.issubdtype(atype.dtype, np.integer):
        raise InputError(f"atype must hold integers, got dtype {atype.dtype}")
    if atype.size == nat:
        atype = atype.reshape(1, nat)
    elif atype.size == nf * nat:
        atype = atype.reshape(nf, nat)
    else:
        raise InputError(f"atype must have shape [nat] or [nf, nat] = [{nf}, {nat}], got {atype.shape}")
    atype = np.broadcast_to(atype, (nf, nat)).astype(np.int32)
    nloc = nat if nloc is None else int(nloc)
    if not 0 <= nloc <= nat:
        raise InputError(f"nloc = {nloc} must lie in [0, {nat}] (atoms in coord)")
    ntypes, nnei = len(sel), int(sum(sel))
    first = atype[0, :nloc] if nf else np.zeros(0, np.int32)
    counts = np.bincount(first[(first >= 0) & (first < ntypes)], minlength=ntypes)[:ntypes]
    natoms = np.concatenate([[nloc, nat], counts]).astype(np.int32)
    if neighbor_list is not None:
        mesh = serialize_nlist(nloc, neighbor_list)
    else:
        mesh = make_mesh(box is not None)
    if box is None:
        box = np.zeros((nf, 9), dtype=dtype)
    box = np.asarray(box, dtype=dtype).reshape(-1, 9) if np.size(box) % 9 == 0 else None
    if box is None or box.shape[0] not in (1, nf):
        raise InputError(f"box must have shape [9] or [nf, 9] with nf = {nf}")
    box = np.broadcast_to(box, (nf, 9))
    stats = []
    for name, value, default in (("davg", davg, 0.0), ("dstd", dstd, 1.0)):
        value = np.full((ntypes, nnei * ncomp), default) if value is None else np.asarray(value)
        if value.size != ntypes * nnei * ncomp:
            raise InputError(f"{name} must have shape [ntypes, ndesc] = [{ntypes}, {nnei * ncomp}], "
                             f"got {value.shape}")
        stats.append(value.reshape(ntypes, nnei * ncomp).astype(dtype))
    return {"coord": coord, "type": atype, "natoms": natoms, "box": box, "mesh": mesh,
            "davg": stats[0], "dstd": stats[1]}


def _check_attrs(what: str, rcut, rcut_smth, sel) -> list:
    """Validated ``sel`` as a list of ints; InputError for bad attributes."""
    try:
        sel = [int(s) for s in sel]
    except (TypeError, ValueError) as exc:
        raise InputError(f"{what}: sel must be a list of integers, got {sel!r}") from exc
    if not sel or min(sel) < 0:
        raise InputError(f"{what}: sel must list one count >= 0 per atom type, got {sel}")
    if not float(rcut) > 0.0:
        raise InputError(f"{what}: rcut must be > 0, got {rcut}")
    if not float(rcut_smth) <= float(rcut):
        raise InputError(f"{what}: rcut_smth must be <= rcut, got rcut_smth = {rcut_smth} > rcut = {rcut}")
    return sel


def _env_mat(kind: str, coord, atype, box, rcut, rcut_smth, sel, davg, dstd, nloc, neighbor_list):
    from deepmt.op import graph as ops

    sel = _check_attrs(f"env_mat_{kind}", rcut, rcut_smth, sel)
    ncomp = 4 if kind == "a" else 1
    feed = _env_inputs(coord, atype, box, ncomp, sel, davg, dstd, nloc, neighbor_list)
    dtype = feed["coord"].dtype
    op = ops.env_mat_a if kind == "a" else ops.env_mat_r
    attrs = {"rcut": float(rcut), "rcut_smth": float(rcut_smth), "sel": sel}

    def build(tf):
        tf_dtype = tf.as_dtype(dtype)
        inputs = {
            "coord": tf.placeholder(tf_dtype, [None, None], name="coord"),
            "type": tf.placeholder(tf.int32, [None, None], name="type"),
            "natoms": tf.placeholder(tf.int32, [None], name="natoms"),
            "box": tf.placeholder(tf_dtype, [None, None], name="box"),
            "mesh": tf.placeholder(tf.int32, [None], name="mesh"),
            "davg": tf.placeholder(tf_dtype, [None, None], name="davg"),
            "dstd": tf.placeholder(tf_dtype, [None, None], name="dstd"),
        }
        outs = op(inputs["coord"], inputs["type"], inputs["natoms"], inputs["box"], inputs["mesh"],
                  inputs["davg"], inputs["dstd"], **attrs)
        names = ("descrpt", "descrpt_deriv", "rij", "nlist", "max_nnei")
        return inputs, dict(zip(names, outs))

    key = ("env_mat", kind, np.dtype(dtype).name, tuple(sel), attrs["rcut"], attrs["rcut_smth"])
    return _runner(key, build).run(f"env_mat_{kind}", feed)


def env_mat_a(coord, atype, box=None, *, rcut: float, rcut_smth: float, sel: Sequence[int],
              davg=None, dstd=None, nloc: Optional[int] = None, neighbor_list=None) -> dict:
    """se_e2_a environment matrix of NumPy frames (op ``DmtEnvMatA``).

    Parameters
    ----------
    coord
        ``nf x nat*3`` (or ``nat*3``, ``nf x nat x 3``) coordinates in Å;
        float32 input runs the float32 kernel, anything else float64.
    atype
        ``nat`` or ``nf x nat`` integer types in ``[0, len(sel))``
        (negative: virtual atom).
    box
        ``nf x 9`` (or ``9``) cell vectors as rows; None = no periodicity.
    rcut, rcut_smth, sel
        Cut-off (Å), start of the switching region (Å), slots per type.
    davg, dstd
        ``ntypes x 4N`` normalization (default 0 and 1: raw rows).
    nloc
        Number of centres (default: all atoms). With ``nloc < nat`` and no
        ``neighbor_list`` the remaining atoms are neighbours only (no box).
    neighbor_list
        ``nloc`` arrays of neighbour indices into the ``nat`` extended atoms
        (local atoms first, then ghosts); the box is then ignored.

    Returns
    -------
    dict
        ``descrpt`` ``nf x nloc*4N``, ``descrpt_deriv`` ``nf x nloc*4N*3``,
        ``rij`` ``nf x nloc*N*3``, ``nlist`` ``nf x nloc*N`` (int32),
        ``max_nnei`` ``nf x ntypes`` (int32), in DeePMD-kit's element order.
    """
    return _env_mat("a", coord, atype, box, rcut, rcut_smth, sel, davg, dstd, nloc, neighbor_list)


def env_mat_r(coord, atype, box=None, *, rcut: float, rcut_smth: float, sel: Sequence[int],
              davg=None, dstd=None, nloc: Optional[int] = None, neighbor_list=None) -> dict:
    """se_e2_r environment matrix (op ``DmtEnvMatR``); see :func:`env_mat_a`.

    ``davg``/``dstd`` are ``ntypes x N``; ``descrpt`` is ``nf x nloc*N`` and
    ``descrpt_deriv`` ``nf x nloc*N*3``.
    """
    return _env_mat("r", coord, atype, box, rcut, rcut_smth, sel, davg, dstd, nloc, neighbor_list)


def _force_virial(kind: str, net_deriv, descrpt_deriv, rij, nlist, nloc: int, nall: Optional[int]):
    from deepmt.op import graph as ops

    net_deriv = np.asarray(net_deriv)
    dtype = _float_dtype(net_deriv)
    net_deriv = _frames("net_deriv", net_deriv, dtype)
    nf = net_deriv.shape[0]
    in_deriv = _frames("descrpt_deriv", descrpt_deriv, dtype)
    rij = _frames("rij", rij, dtype)
    nlist = _frames("nlist", nlist, np.int32)
    nloc = int(nloc)
    nall = nloc if nall is None else int(nall)
    ncomp = 4 if kind == "a" else 1
    if nloc > 0 and net_deriv.shape[1] != nlist.shape[1] * ncomp:
        raise InputError(
            f"force_virial_{kind}: net_deriv has {net_deriv.shape[1]} columns per frame but "
            f"nlist has {nlist.shape[1]} slots and the {kind.upper()} family has {ncomp} "
            f"numbers per slot (expected {nlist.shape[1] * ncomp})"
        )
    for name, array in (("descrpt_deriv", in_deriv), ("rij", rij), ("nlist", nlist)):
        if array.shape[0] != nf:
            raise InputError(f"force_virial_{kind}: {name} has {array.shape[0]} frames, net_deriv {nf}")
    natoms = np.array([nloc, nall, nloc], dtype=np.int32)

    def build(tf):
        tf_dtype = tf.as_dtype(dtype)
        inputs = {
            "net_deriv": tf.placeholder(tf_dtype, [None, None], name="net_deriv"),
            "in_deriv": tf.placeholder(tf_dtype, [None, None], name="in_deriv"),
            "rij": tf.placeholder(tf_dtype, [None, None], name="rij"),
            "nlist": tf.placeholder(tf.int32, [None, None], name="nlist"),
            "natoms": tf.placeholder(tf.int32, [None], name="natoms"),
        }
        force = ops.prod_force(inputs["net_deriv"], inputs["in_deriv"], inputs["nlist"], inputs["natoms"])
        virial, atom_virial = ops.prod_virial(inputs["net_deriv"], inputs["in_deriv"], inputs["rij"],
                                              inputs["nlist"], inputs["natoms"])
        return inputs, {"force": force, "virial": virial, "atom_virial": atom_virial}

    feed = {"net_deriv": net_deriv, "in_deriv": in_deriv, "rij": rij, "nlist": nlist, "natoms": natoms}
    return _runner(("force_virial", np.dtype(dtype).name), build).run(f"force_virial_{kind}", feed)


def force_virial_a(net_deriv, descrpt_deriv, rij, nlist, nloc: int, nall: Optional[int] = None) -> dict:
    """Forces and virials from ``net_deriv = dE/d descrpt`` (se_e2_a layout).

    Parameters
    ----------
    net_deriv
        ``nf x nloc*4N``.
    descrpt_deriv, rij, nlist
        Outputs of :func:`env_mat_a` (``nf x nloc*4N*3``, ``nf x nloc*N*3``,
        ``nf x nloc*N``).
    nloc, nall
        Centres, and atoms that may appear in ``nlist`` (default ``nloc``).

    Returns
    -------
    dict
        ``force`` ``nf x nall*3``, ``virial`` ``nf x 9``, ``atom_virial``
        ``nf x nall*9``.
    """
    return _force_virial("a", net_deriv, descrpt_deriv, rij, nlist, nloc, nall)


def force_virial_r(net_deriv, descrpt_deriv, rij, nlist, nloc: int, nall: Optional[int] = None) -> dict:
    """Forces and virials for the se_e2_r layout (``net_deriv`` ``nf x nloc*N``);
    see :func:`force_virial_a`."""
    return _force_virial("r", net_deriv, descrpt_deriv, rij, nlist, nloc, nall)
