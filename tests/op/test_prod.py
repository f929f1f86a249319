"""DmtProdForce / DmtProdVirial and their grad ops.

* op vs oracle on real env-matrix outputs (water, A and R), float64 / float32;
* adjoint (dot-product) identities of the grad ops, on both backends;
* ``compute_gradient`` through the registered gradients w.r.t. ``net_deriv``
  (the ``atom_virial`` upstream gradient is ignored, as in DeePMD-kit).
"""

import numpy as np
import pytest

from reference import env_mat_np, prod_np
from reference.systems import random_stats, random_system, water_system


def _inputs(kind, name="water", seed=0):
    """Oracle env-matrix outputs and random ``net_deriv`` / upstream gradients."""
    rng = np.random.default_rng(seed)
    if name == "water":
        system, rcut, rcut_smth, sel = water_system(1), 6.0, 0.5, [46, 92]
    elif name == "cluster":
        system = random_system(rng, 6, 2, extent=4.0, min_dist=1.0)
        rcut, rcut_smth, sel = 4.0, 1.0, [5, 5]
    else:  # tiny: few elements, as compute_gradient runs the graph twice per element
        system = random_system(rng, 4, 2, extent=2.5, min_dist=1.0)
        rcut, rcut_smth, sel = 4.0, 1.0, [2, 2]
    ncomp = 4 if kind == "a" else 1
    davg, dstd = random_stats(rng, 2, sum(sel), ncomp)
    env = env_mat_np.env_mat(system.coord, system.atype, system.box, rcut=rcut,
                             rcut_smth=rcut_smth, sel=sel, davg=davg, dstd=dstd, kind=kind)
    nloc = system.natoms
    return {
        "nloc": nloc, "deriv": env["descrpt_deriv"], "rij": env["rij"], "nlist": env["nlist"],
        "g": rng.normal(size=env["descrpt"].shape),
        "grad_force": rng.normal(size=(1, nloc * 3)), "grad_virial": rng.normal(size=(1, 9)),
    }


def _close(got, want, rtol, label):
    scale = max(1.0, np.abs(want).max())
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale, err_msg=label)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", ["a", "r"])
def test_prod_ops_match_oracle(ops, kind, dtype):
    x = _inputs(kind)
    if dtype == np.float32:
        x = {k: (v.astype(np.float32).astype(np.float64) if isinstance(v, np.ndarray)
                 and v.dtype == np.float64 else v) for k, v in x.items()}
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    nloc, g = x["nloc"], x["g"]
    force = ops.prod_force(g, x["deriv"], x["nlist"], nloc, dtype=dtype)
    virial, atom_virial = ops.prod_virial(g, x["deriv"], x["rij"], x["nlist"], nloc, dtype=dtype)
    assert force.shape == (1, nloc * 3) and force.dtype == dtype
    assert virial.shape == (1, 9) and atom_virial.shape == (1, nloc * 9)
    _close(force, prod_np.prod_force(g, x["deriv"], x["nlist"], nloc), rtol, f"{kind}: force")
    want_v, want_av = prod_np.prod_virial(g, x["deriv"], x["rij"], x["nlist"], nloc)
    _close(virial, want_v, rtol, f"{kind}: virial")
    _close(atom_virial, want_av, rtol, f"{kind}: atom_virial")
    got = ops.prod_force_grad(x["grad_force"], g, x["deriv"], x["nlist"], nloc, dtype=dtype)
    want = prod_np.prod_force_grad(x["grad_force"], g, x["deriv"], x["nlist"], nloc)
    assert got.shape == g.shape
    _close(got, want, rtol, f"{kind}: prod_force_grad")
    got = ops.prod_virial_grad(x["grad_virial"], g, x["deriv"], x["rij"], x["nlist"], nloc, dtype=dtype)
    want = prod_np.prod_virial_grad(x["grad_virial"], g, x["deriv"], x["rij"], x["nlist"], nloc)
    _close(got, want, rtol, f"{kind}: prod_virial_grad")


@pytest.mark.parametrize("kind", ["a", "r"])
def test_grad_ops_are_adjoints(backend, kind):
    x = _inputs(kind)
    nloc, g = x["nloc"], x["g"]
    force = backend.prod_force(g, x["deriv"], x["nlist"], nloc)
    grad_net = backend.prod_force_grad(x["grad_force"], g, x["deriv"], x["nlist"], nloc)
    lhs, rhs = np.vdot(x["grad_force"], force), np.vdot(grad_net, g)
    assert abs(lhs - rhs) <= 1e-11 * max(1.0, abs(lhs)), (backend.name, lhs, rhs)
    virial, _ = backend.prod_virial(g, x["deriv"], x["rij"], x["nlist"], nloc)
    grad_net = backend.prod_virial_grad(x["grad_virial"], g, x["deriv"], x["rij"], x["nlist"], nloc)
    lhs, rhs = np.vdot(x["grad_virial"], virial), np.vdot(grad_net, g)
    assert abs(lhs - rhs) <= 1e-11 * max(1.0, abs(lhs)), (backend.name, lhs, rhs)


def test_grad_ops_do_not_depend_on_net_deriv(backend):
    """Force and virial are linear in net_deriv: their adjoints ignore its value."""
    x = _inputs("a", "cluster")
    nloc = x["nloc"]
    other = np.random.default_rng(9).normal(size=x["g"].shape)
    results = [(backend.prod_force_grad(x["grad_force"], g, x["deriv"], x["nlist"], nloc),
                backend.prod_virial_grad(x["grad_virial"], g, x["deriv"], x["rij"], x["nlist"], nloc))
               for g in (x["g"], other)]
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])


@pytest.mark.parametrize("kind", ["a", "r"])
def test_registered_gradients(ops, kind):
    from deepmt.op import graph as op_graph
    from deepmt.utils.tf_compat import get_tf

    tf = get_tf()
    x = _inputs(kind, "tiny", seed=4)
    nloc = x["nloc"]
    natoms = np.array([nloc, nloc, nloc], dtype=np.int32)
    with tf.Graph().as_default(), tf.Session() as sess:
        net = tf.placeholder(tf.float64, x["g"].shape, name="net_deriv")
        deriv, rij = tf.constant(x["deriv"]), tf.constant(x["rij"])
        nlist, nat = tf.constant(x["nlist"]), tf.constant(natoms)
        force = op_graph.prod_force(net, deriv, nlist, nat)
        virial, atom_virial = op_graph.prod_virial(net, deriv, rij, nlist, nat)
        for name, y, size in (("force", force, nloc * 3), ("virial", virial, 9)):
            theory, numeric = tf.test.compute_gradient(net, x["g"].shape, y, (1, size),
                                                       x_init_value=x["g"], delta=1e-3)
            assert np.abs(theory).max() > 0
            np.testing.assert_allclose(theory, numeric, rtol=1e-7, atol=1e-7,
                                       err_msg=f"{kind}: registered gradient of {name}")
        # the atom virial is not trainable: its upstream gradient is dropped
        (grad,) = tf.gradients(tf.reduce_sum(atom_virial), [net])
        if grad is not None:
            assert not np.any(sess.run(grad, {net: x["g"]}))
        # gradients w.r.t. the other inputs are None
        assert tf.gradients(tf.reduce_sum(force), [deriv])[0] is None
        assert tf.gradients(tf.reduce_sum(virial), [rij])[0] is None
