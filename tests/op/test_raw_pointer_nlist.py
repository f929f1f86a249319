"""External neighbour list passed by raw pointers (``len(mesh) == 16``).

The list is held in NumPy arrays: ``ilist`` and ``numneigh`` (int32) and
``firstneigh``, an array of ``int*`` addresses of per-centre neighbour
arrays allocated one by one.  Their addresses are packed into a 16-int32
mesh the DeePMD-kit way (``ilist`` at ints 4-7, ``numneigh`` at 8-11,
``firstneigh`` at 12-15; ``inum`` at int 1).  The op run on that mesh in a
session must give exactly what the serialized form (``len(mesh) > 16``)
gives, and the same environment as the op's own periodic search once ghost
indices are mapped back to their local atoms.
"""

import ctypes

import numpy as np
import pytest

from deepmt.op import serialize_nlist
from deepmt.utils.tf_compat import get_tf
from reference import env_mat_np
from reference.systems import random_stats, random_system

RCUT, RCUT_SMTH, SEL = 4.0, 1.0, [30, 30]
MARGIN = 0.5
KEYS = ("descrpt", "descrpt_deriv", "rij", "nlist", "max_nnei")

# the op copies 8-byte pointers out of pairs of int32 (as DeePMD-kit does)
pytestmark = pytest.mark.skipif(ctypes.sizeof(ctypes.c_void_p) != 8 or not np.little_endian,
                                reason="raw-pointer meshes assume 64-bit little-endian")


def _ghost_setup(seed=11):
    """A periodic system, its ghost-extended atoms and candidate lists.

    Returns ``system``, ``ext nall x 3``, ``ext_type nall``, ``mapping nall``
    (local atom of each extended atom) and, per local atom, its candidates
    in a random order (some beyond ``RCUT``).
    """
    rng = np.random.default_rng(seed)
    system = random_system(rng, 10, 2, lengths=[7.0, 7.5, 8.0], min_dist=1.0)
    nloc = system.natoms
    ext, ext_type, mapping = env_mat_np.replicate(system.coord.reshape(nloc, 3), system.atype,
                                                  system.box.reshape(3, 3), RCUT)
    dist = np.linalg.norm(ext[:, None, :] - ext[None, :nloc, :], axis=-1)
    keep = (np.arange(len(ext)) < nloc) | (np.min(dist, axis=1) < RCUT + MARGIN)
    ext, ext_type, mapping, dist = ext[keep], ext_type[keep], mapping[keep], dist[keep]
    neighbors = [rng.permutation(np.nonzero((dist[:, i] < RCUT + MARGIN)
                                            & (np.arange(len(ext)) != i))[0])
                 for i in range(nloc)]
    return system, ext, ext_type, mapping, neighbors


class RawList:
    """A LAMMPS-style list in C-layout arrays, and the 16-int mesh pointing at them.

    Parameters
    ----------
    centres
        Local atom of each list entry (``ilist``, ``inum`` entries).
    neighbors
        ``neighbors[i]``: neighbour indices (into the ``nall`` atoms) of local atom ``i``.

    The arrays live as long as this object; the mesh is valid only while it does.
    """

    def __init__(self, centres, neighbors):
        self.ilist = np.ascontiguousarray(centres, dtype=np.int32)
        self.numneigh = np.array([len(neighbors[i]) for i in centres], dtype=np.int32)
        # one allocation per centre, so the op must follow every pointer
        self.rows = [np.ascontiguousarray(neighbors[i], dtype=np.int32) for i in centres]
        self.firstneigh = np.array([row.ctypes.data for row in self.rows], dtype=np.uintp)

    def mesh(self) -> np.ndarray:
        """int32 ``[16]``: int 1 ``inum``, ints 4/8/12 start the three pointers."""
        mesh = np.zeros(16, dtype=np.int32)
        mesh[1] = self.ilist.size
        words = mesh.view(np.uint64)  # word k covers ints 2k and 2k + 1
        words[2] = self.ilist.ctypes.data
        words[4] = self.numneigh.ctypes.data
        words[6] = self.firstneigh.ctypes.data
        return mesh


@pytest.fixture(scope="module")
def env_graph():
    """Session and ``run(kind, coord, atype, box, mesh, nloc, stats)`` of both env-mat ops."""
    from deepmt.op import graph as op_graph

    tf = get_tf()
    graph = tf.Graph()
    with graph.as_default():
        inputs = {
            "coord": tf.placeholder(tf.float64, [None, None]),
            "type": tf.placeholder(tf.int32, [None, None]),
            "natoms": tf.placeholder(tf.int32, [None]),
            "box": tf.placeholder(tf.float64, [None, 9]),
            "mesh": tf.placeholder(tf.int32, [None]),
            "davg": tf.placeholder(tf.float64, [None, None]),
            "dstd": tf.placeholder(tf.float64, [None, None]),
        }
        args = [inputs[k] for k in ("coord", "type", "natoms", "box", "mesh", "davg", "dstd")]
        attrs = dict(rcut=RCUT, rcut_smth=RCUT_SMTH, sel=SEL)
        outputs = {"a": dict(zip(KEYS, op_graph.env_mat_a(*args, **attrs))),
                   "r": dict(zip(KEYS, op_graph.env_mat_r(*args, **attrs)))}
    sess = tf.Session(graph=graph)

    def run(kind, coord, atype, box, mesh, nloc, stats):
        counts = np.bincount(atype[:nloc], minlength=len(SEL))
        feed = {inputs["coord"]: coord.reshape(1, -1), inputs["type"]: atype.reshape(1, -1),
                inputs["natoms"]: np.r_[nloc, atype.size, counts].astype(np.int32),
                inputs["box"]: np.zeros((1, 9)) if box is None else box.reshape(1, 9),
                inputs["mesh"]: mesh, inputs["davg"]: stats[0], inputs["dstd"]: stats[1]}
        return sess.run(outputs[kind], feed_dict=feed)

    yield run
    sess.close()


def _stats(kind, seed=3):
    return random_stats(np.random.default_rng(seed), len(SEL), sum(SEL), 4 if kind == "a" else 1)


@pytest.mark.parametrize("kind", ["a", "r"])
def test_raw_pointers_equal_serialized_list_and_internal_search(env_graph, kind):
    system, ext, ext_type, mapping, neighbors = _ghost_setup()
    nloc = system.natoms
    stats = _stats(kind)
    # centres listed in a shuffled order: the op must place rows by ilist
    raw = RawList(np.random.default_rng(4).permutation(nloc), neighbors)
    got = env_graph(kind, ext, ext_type, None, raw.mesh(), nloc, stats)
    serialized = env_graph(kind, ext, ext_type, None, serialize_nlist(nloc, neighbors), nloc, stats)
    for key in KEYS:
        np.testing.assert_array_equal(got[key], serialized[key], err_msg=key)
    internal = env_graph(kind, system.coord, system.atype, system.box, np.zeros(6, np.int32),
                         nloc, stats)
    nlist = got["nlist"]
    assert np.any(nlist >= nloc), "ghost indices must stay extended indices"
    np.testing.assert_array_equal(np.where(nlist >= 0, mapping[nlist], -1), internal["nlist"])
    for key in ("descrpt", "descrpt_deriv", "rij"):
        np.testing.assert_allclose(got[key], internal[key], rtol=1e-12, atol=1e-12, err_msg=key)
    np.testing.assert_array_equal(got["max_nnei"], internal["max_nnei"])


def test_centres_missing_from_ilist_get_no_neighbours(env_graph):
    system, ext, ext_type, _, neighbors = _ghost_setup(seed=12)
    nloc = system.natoms
    stats = _stats("a", seed=5)
    listed = [7, 2, 5, 0]
    raw = RawList(listed, neighbors)
    got = env_graph("a", ext, ext_type, None, raw.mesh(), nloc, stats)
    # the serialized form of the same list: the unlisted centres have empty lists
    partial = [neighbors[i] if i in listed else [] for i in range(nloc)]
    want = env_graph("a", ext, ext_type, None, serialize_nlist(nloc, partial), nloc, stats)
    for key in KEYS:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)
    nlist = got["nlist"].reshape(nloc, -1)
    unlisted = [i for i in range(nloc) if i not in listed]
    assert np.all(nlist[unlisted] == -1) and np.all((nlist[listed] >= 0).any(axis=1))
    descrpt = got["descrpt"].reshape(nloc, -1)
    for i in unlisted:  # empty slots hold -davg/dstd of the centre's type
        t = ext_type[i]
        np.testing.assert_allclose(descrpt[i], -stats[0][t] / stats[1][t], rtol=1e-14)
