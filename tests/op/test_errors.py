"""Every invalid input gives a clear error naming the culprit, never a crash.

Kernel checks are reached through placeholders of unknown rank, so nothing
is caught by shape inference; attribute mistakes may be caught when the op
is created (``InputError``) or when it runs (``InvalidArgumentError``).
Missing or broken libraries give an ``OpLoadError`` that says how to fix it.
"""

import numpy as np
import pytest

from deepmt.errors import DeepMTError, InputError, OpLoadError

SEL = [3, 4]
NDESC = 4 * sum(SEL)


def _tf():
    from deepmt.utils.tf_compat import get_tf

    return get_tf()


def _errors():
    tf = _tf()
    return (tf.errors.InvalidArgumentError, DeepMTError)


def _expect(words, fn):
    """``fn()`` must raise a clear error whose message names one of ``words``."""
    with pytest.raises(_errors()) as info:
        fn()
    message = str(info.value).lower()
    assert any(w.lower() in message for w in words), f"message does not name {words}: {info.value}"
    return message


class _Graph:
    """Op(s) on rank-unknown placeholders; ``run(**feeds)`` evaluates them."""

    def __init__(self, make):
        tf = _tf()
        self.graph = tf.Graph()
        with self.graph.as_default():
            self.ph, self.out = make(tf)
        self.sess = tf.Session(graph=self.graph)

    def run(self, **feeds):
        return self.sess.run(self.out, {self.ph[k]: v for k, v in feeds.items()})


def _env_graph(kind="a", rcut=3.0, rcut_smth=1.0, sel=SEL):
    from deepmt.op import graph as op_graph

    def make(tf):
        names = {"coord": tf.float64, "type": tf.int32, "natoms": tf.int32, "box": tf.float64,
                 "mesh": tf.int32, "davg": tf.float64, "dstd": tf.float64}
        ph = {k: tf.placeholder(v, shape=None, name=k) for k, v in names.items()}
        fn = op_graph.env_mat_a if kind == "a" else op_graph.env_mat_r
        out = fn(ph["coord"], ph["type"], ph["natoms"], ph["box"], ph["mesh"], ph["davg"],
                 ph["dstd"], rcut=rcut, rcut_smth=rcut_smth, sel=sel)
        return ph, out

    return _Graph(make)


@pytest.fixture(scope="module")
def env_graph(ops):
    return _env_graph()


def _good_env(nf=2, nat=5):
    rng = np.random.default_rng(0)
    atype = np.array([0, 1, 0, 1, 1])[:nat]
    return {
        "coord": rng.uniform(0, 4, size=(nf, nat * 3)), "type": np.tile(atype, (nf, 1)).astype(np.int32),
        "natoms": np.array([nat, nat, np.sum(atype == 0), np.sum(atype == 1)], dtype=np.int32),
        "box": np.tile(np.diag([5.0, 5.5, 6.0]).reshape(-1), (nf, 1)),
        "mesh": np.zeros(6, dtype=np.int32),
        "davg": np.zeros((2, NDESC)), "dstd": np.ones((2, NDESC)),
    }


def test_valid_inputs_run(env_graph):
    out = env_graph.run(**_good_env())
    assert out[0].shape == (2, 5 * NDESC)


BAD_ENV = {
    "coord_rank": (("coord",), {"coord": lambda e: e["coord"].reshape(-1)}),
    "coord_length": (("coord",), {"coord": lambda e: e["coord"][:, :-1]}),
    "type_rank": (("type",), {"type": lambda e: e["type"].reshape(-1)}),
    "type_length": (("type",), {"type": lambda e: e["type"][:, :-1]}),
    "frames_mismatch": (("type", "coord", "frame"), {"type": lambda e: e["type"][:1]}),
    "type_too_large": (("type",), {"type": lambda e: np.where(e["type"] == 1, 2, 0).astype(np.int32)}),
    "natoms_rank": (("natoms",), {"natoms": lambda e: e["natoms"].reshape(1, -1)}),
    "natoms_too_short": (("natoms",), {"natoms": lambda e: e["natoms"][:2]}),
    "natoms_nloc_gt_nall": (("natoms", "nloc", "nall"),
                            {"natoms": lambda e: e["natoms"] + np.array([1, 0, 0, 0], np.int32)}),
    "ntypes_vs_sel": (("sel", "natoms", "ntypes"),
                      {"natoms": lambda e: np.append(e["natoms"], 0).astype(np.int32),
                       "davg": lambda e: np.zeros((3, NDESC)), "dstd": lambda e: np.ones((3, NDESC))}),
    "box_rank": (("box",), {"box": lambda e: e["box"].reshape(-1)}),
    "box_width": (("box",), {"box": lambda e: e["box"][:, :6]}),
    "box_singular": (("box",), {"box": lambda e: np.zeros_like(e["box"])}),
    "mesh_rank": (("mesh",), {"mesh": lambda e: np.zeros((2, 3), np.int32)}),
    "davg_shape": (("davg",), {"davg": lambda e: np.zeros((2, NDESC + 4))}),
    "dstd_shape": (("dstd",), {"dstd": lambda e: np.ones((1, NDESC))}),
    "davg_rank": (("davg",), {"davg": lambda e: np.zeros(2 * NDESC)}),
}


@pytest.mark.parametrize("case", sorted(BAD_ENV))
def test_env_mat_rejects(env_graph, case):
    words, changes = BAD_ENV[case]
    feeds = _good_env()
    for key, change in changes.items():
        feeds[key] = change(feeds)
    _expect(words, lambda: env_graph.run(**feeds))


def test_external_neighbor_out_of_range(env_graph):
    feeds = _good_env(nf=1)
    nloc = 5
    mesh = np.concatenate([[nloc], np.zeros(15), np.arange(nloc), [1] * nloc, [7, 0, 1, 2, 3]])
    feeds["mesh"] = mesh.astype(np.int32)
    _expect(("neighbo", "mesh", "nlist", "index"), lambda: env_graph.run(**feeds))
    feeds["mesh"] = mesh[:-2].astype(np.int32)  # numneigh promises more than is there
    _expect(("neighbo", "mesh", "nlist", "numneigh", "size", "length"), lambda: env_graph.run(**feeds))


@pytest.mark.parametrize("attrs,words", [
    (dict(rcut=3.0, rcut_smth=3.5), ("rcut_smth",)),
    (dict(rcut=-1.0, rcut_smth=-2.0), ("rcut",)),
    (dict(rcut=3.0, rcut_smth=1.0, sel=[3, -1]), ("sel",)),
])
def test_env_mat_rejects_attributes(ops, attrs, words):
    def build_and_run():
        graph = _env_graph(**attrs)
        graph.run(**_good_env())

    _expect(words, build_and_run)


@pytest.fixture(scope="module")
def prod_graph(ops):
    from deepmt.op import graph as op_graph

    def make(tf):
        ph = {k: tf.placeholder(tf.float64, shape=None, name=k)
              for k in ("net_deriv", "in_deriv", "rij", "grad", "grad_virial")}
        ph["nlist"] = tf.placeholder(tf.int32, shape=None, name="nlist")
        ph["natoms"] = tf.placeholder(tf.int32, shape=None, name="natoms")
        force = op_graph.prod_force(ph["net_deriv"], ph["in_deriv"], ph["nlist"], ph["natoms"])
        virial = op_graph.prod_virial(ph["net_deriv"], ph["in_deriv"], ph["rij"], ph["nlist"],
                                      ph["natoms"])
        mod = ops.module
        fgrad = mod.dmt_prod_force_grad(ph["grad"], ph["net_deriv"], ph["in_deriv"], ph["nlist"],
                                        ph["natoms"])
        vgrad = mod.dmt_prod_virial_grad(ph["grad_virial"], ph["net_deriv"], ph["in_deriv"], ph["rij"],
                                         ph["nlist"], ph["natoms"])
        return ph, {"force": force, "virial": virial, "force_grad": fgrad, "virial_grad": vgrad}

    return _Graph(make)


def _good_prod(nf=1, nloc=4, nnei=5):
    rng = np.random.default_rng(1)
    nlist = rng.integers(-1, nloc, size=(nf, nloc * nnei)).astype(np.int32)
    return {
        "net_deriv": rng.normal(size=(nf, nloc * nnei * 4)),
        "in_deriv": rng.normal(size=(nf, nloc * nnei * 12)),
        "rij": rng.normal(size=(nf, nloc * nnei * 3)),
        "nlist": nlist, "natoms": np.array([nloc, nloc, nloc], np.int32),
        "grad": rng.normal(size=(nf, nloc * 3)), "grad_virial": rng.normal(size=(nf, 9)),
    }


def _run_prod(graph, which, feeds):
    needs = {"force": ("net_deriv", "in_deriv", "nlist", "natoms"),
             "virial": ("net_deriv", "in_deriv", "rij", "nlist", "natoms"),
             "force_grad": ("grad", "net_deriv", "in_deriv", "nlist", "natoms"),
             "virial_grad": ("grad_virial", "net_deriv", "in_deriv", "rij", "nlist", "natoms")}[which]
    return graph.sess.run(graph.out[which], {graph.ph[k]: feeds[k] for k in needs})


def test_prod_valid_inputs_run(prod_graph):
    feeds = _good_prod()
    for which in ("force", "virial", "force_grad", "virial_grad"):
        _run_prod(prod_graph, which, feeds)


BAD_PROD = {
    "net_deriv_rank": ("net_deriv", lambda f: f["net_deriv"].reshape(-1)),
    "net_deriv_length": ("net_deriv", lambda f: f["net_deriv"][:, :-1]),
    "in_deriv_length": ("in_deriv", lambda f: f["in_deriv"][:, :-3]),
    "in_deriv_rank": ("in_deriv", lambda f: f["in_deriv"].reshape(-1)),
    "nlist_length": ("nlist", lambda f: f["nlist"][:, :-1]),
    "nlist_rank": ("nlist", lambda f: f["nlist"].reshape(-1)),
    "nlist_out_of_range": ("nlist", lambda f: np.where(f["nlist"] == 0, 4, f["nlist"]).astype(np.int32)),
    "natoms_too_short": ("natoms", lambda f: f["natoms"][:1]),
    "rij_length": ("rij", lambda f: f["rij"][:, :-3]),
    "grad_length": ("grad", lambda f: f["grad"][:, :-1]),
    "grad_virial_length": ("grad_virial", lambda f: f["grad_virial"][:, :8]),
}
USES = {"net_deriv": ("force", "virial", "force_grad", "virial_grad"),
        "in_deriv": ("force", "virial", "force_grad", "virial_grad"),
        "nlist": ("force", "virial", "force_grad", "virial_grad"),
        "natoms": ("force", "virial", "force_grad", "virial_grad"),
        "rij": ("virial", "virial_grad"), "grad": ("force_grad",), "grad_virial": ("virial_grad",)}


@pytest.mark.parametrize("case", sorted(BAD_PROD))
def test_prod_ops_reject(prod_graph, case):
    key, change = BAD_PROD[case]
    feeds = _good_prod()
    feeds[key] = change(feeds)
    words = ("grad",) if key == "grad_virial" else (key,)
    for which in USES[key]:
        _expect(words, lambda: _run_prod(prod_graph, which, feeds))


def test_missing_library_is_an_op_load_error(monkeypatch):
    from deepmt.op import loader

    monkeypatch.setattr(loader, "_MODULE", None)
    monkeypatch.setattr(loader, "library_path", lambda: None)
    with pytest.raises(OpLoadError) as info:
        loader.load()
    message = str(info.value)
    assert "libdeepmt_op.so" in message and "not found" in message
    assert "pip install" in message, "the message must say how to fix it"


def test_broken_library_is_an_op_load_error(monkeypatch, tmp_path):
    from deepmt.op import loader

    fake = tmp_path / "libdeepmt_op.so"
    fake.write_bytes(b"this is not a shared object")
    monkeypatch.setattr(loader, "_MODULE", None)
    monkeypatch.setattr(loader, "library_path", lambda: fake)
    with pytest.raises(OpLoadError) as info:
        loader.load()
    assert str(fake) in str(info.value) and "pip install" in str(info.value)


def test_numpy_api_rejects_bad_input(ops):
    import deepmt.op

    rng = np.random.default_rng(2)
    coord = rng.uniform(0, 4, size=(1, 15))
    atype = np.array([0, 1, 0, 1, 1])
    box = np.diag([5.0, 5.5, 6.0]).reshape(1, 9)
    kw = dict(rcut=3.0, rcut_smth=1.0, sel=SEL)
    assert deepmt.op.env_mat_a(coord, atype, box, **kw)["descrpt"].shape == (1, 5 * NDESC)
    bad = [
        (("coord",), lambda: deepmt.op.env_mat_a(coord[:, :-1], atype, box, **kw)),
        (("atype", "type"), lambda: deepmt.op.env_mat_a(coord, atype[:-1], box, **kw)),
        (("atype", "type"), lambda: deepmt.op.env_mat_a(coord, atype + 1, box, **kw)),
        (("box",), lambda: deepmt.op.env_mat_a(coord, atype, box[:, :6], **kw)),
        (("davg",), lambda: deepmt.op.env_mat_a(coord, atype, box, davg=np.zeros((2, 3)), **kw)),
        (("rcut_smth",), lambda: deepmt.op.env_mat_a(coord, atype, box, rcut=3.0, rcut_smth=4.0, sel=SEL)),
        (("sel",), lambda: deepmt.op.env_mat_a(coord, atype, box, rcut=3.0, rcut_smth=1.0, sel=[3, -4])),
    ]
    for words, call in bad:
        # the NumPy API is user-facing: a deepmt InputError, not a TF error
        with pytest.raises(InputError) as info:
            call()
        message = str(info.value).lower()
        assert any(w in message for w in words), f"message does not name {words}: {info.value}"
