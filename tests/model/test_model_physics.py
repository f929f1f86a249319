"""Physics of the built model: finite differences, invariances, smoothness."""

import numpy as np
import pytest

from deepmt.model import build_model

from mt_helpers import (DIPOLE, ENER, POLAR, TYPE_MAP, ModelRunner, make_batch, model_config,
                        random_system, rotation)

H = 1e-5


def _runner(rng, heads=None, stats=True, **desc):
    heads = heads or {"e": dict(ENER)}
    model = build_model(model_config(**desc), heads, TYPE_MAP)
    if stats:  # non-trivial davg/dstd so that the normalization is exercised
        coord, box, atype = random_system(rng, (4, 8), nframes=2)
        energy = rng.normal(size=(2, 1))
        model.compute_stats({h: [make_batch(coord, box, atype, energy=energy)]
                             for h in heads if heads[h].get("type", "ener") == "ener"})
    return ModelRunner(model)


def _fd_force(runner, fetch, coord, box, atype, pbc=True):
    fd = np.zeros_like(coord)
    for f in range(coord.shape[0]):
        for k in range(coord.shape[1]):
            plus, minus = coord.copy(), coord.copy()
            plus[f, k] += H
            minus[f, k] -= H
            e_p = runner.run(fetch, plus, box, atype, pbc=pbc)[f]
            e_m = runner.run(fetch, minus, box, atype, pbc=pbc)[f]
            fd[f, k] = -(e_p - e_m) / (2 * H)
    return fd


def _fd_virial(runner, fetch, coord, box, atype):
    """virial[a, b] = -dE/d eps[b, a] with h' = h (I + eps), r' = r (I + eps)."""
    nf = coord.shape[0]
    out = np.zeros((nf, 3, 3))
    for a in range(3):
        for b in range(3):
            energies = []
            for sign in (1, -1):
                strain = np.eye(3)
                strain[b, a] += sign * H
                c = (coord.reshape(nf, -1, 3) @ strain).reshape(nf, -1)
                bx = (box.reshape(nf, 3, 3) @ strain).reshape(nf, 9)
                energies.append(runner.run(fetch, c, bx, atype))
            out[:, a, b] = -(energies[0] - energies[1]) / (2 * H)
    return out.reshape(nf, 9)


def _assert_rel(got, ref, rel=1e-6):
    scale = np.abs(ref).max()
    assert scale > 0
    assert np.abs(got - ref).max() <= rel * scale, np.abs(got - ref).max() / scale


@pytest.mark.parametrize("desc", [
    {},
    {"type_one_side": True},
    {"type_one_side": True, "exclude_types": [[0, 1]]},
    {"exclude_types": [[1, 1]], "resnet_dt": True},
    {"type": "se_e2_r"},
])
def test_force_and_virial_match_finite_differences(rng, desc):
    runner = _runner(rng, **desc)
    coord, box, atype = random_system(rng, (3, 5), box_len=4.5, nframes=2)
    out = runner.out["e"]
    force, virial = runner.run([out["force"], out["virial"]], coord, box, atype)
    _assert_rel(force, _fd_force(runner, out["energy"], coord, box, atype))
    _assert_rel(virial, _fd_virial(runner, out["energy"], coord, box, atype))
    atom_virial = runner.run(out["atom_virial"], coord, box, atype)
    np.testing.assert_allclose(atom_virial.reshape(2, -1, 9).sum(axis=1), virial, atol=1e-10)


def test_cluster_forces_and_virial_without_pbc(rng):
    runner = _runner(rng)
    coord, _, atype = random_system(rng, (3, 4), box_len=3.0)
    out = runner.out["e"]
    force, virial, energy = runner.run([out["force"], out["virial"], out["energy"]], coord,
                                       None, atype, pbc=False)
    _assert_rel(force, _fd_force(runner, out["energy"], coord, None, atype, pbc=False))
    ref = np.einsum("ka,kb->ab", force.reshape(-1, 3), coord.reshape(-1, 3)).reshape(1, 9)
    np.testing.assert_allclose(virial, ref, atol=1e-10 * np.abs(ref).max())
    # a cluster ignores the box entirely
    assert runner.run(out["energy"], coord, np.eye(3).reshape(1, 9) * 2.0, atype,
                      pbc=False) == energy


def test_translation_rotation_permutation(rng):
    runner = _runner(rng, heads={"e": dict(ENER), "d": dict(DIPOLE), "p": dict(POLAR)})
    coord, box, atype = random_system(rng, (3, 5), box_len=4.5)
    fetch = {"e": runner.out["e"]["energy"], "f": runner.out["e"]["force"],
             "v": runner.out["e"]["virial"], "d": runner.out["d"]["dipole"],
             "gd": runner.out["d"]["global_dipole"], "p": runner.out["p"]["polar"]}
    ref = runner.run(fetch, coord, box, atype)
    # translation
    moved = runner.run(fetch, coord + np.tile([0.7, -1.3, 2.1], 8)[None], box, atype)
    np.testing.assert_allclose(moved["e"], ref["e"], rtol=1e-12)
    np.testing.assert_allclose(moved["d"], ref["d"], atol=1e-10)
    assert np.abs(ref["f"].reshape(-1, 3).sum(axis=0)).max() < 1e-10
    # rotation of coordinates and cell (row vectors: r' = r R^T)
    rot = rotation(rng)
    rc = (coord.reshape(-1, 3) @ rot.T).reshape(1, -1)
    rb = (box.reshape(3, 3) @ rot.T).reshape(1, 9)
    turned = runner.run(fetch, rc, rb, atype)
    np.testing.assert_allclose(turned["e"], ref["e"], rtol=1e-10)
    np.testing.assert_allclose(turned["f"].reshape(-1, 3), ref["f"].reshape(-1, 3) @ rot.T,
                               atol=1e-9)
    np.testing.assert_allclose(turned["v"].reshape(3, 3), rot @ ref["v"].reshape(3, 3) @ rot.T,
                               atol=1e-9)
    np.testing.assert_allclose(ref["v"].reshape(3, 3), ref["v"].reshape(3, 3).T, atol=1e-9)
    np.testing.assert_allclose(turned["d"].reshape(-1, 3), ref["d"].reshape(-1, 3) @ rot.T,
                               atol=1e-9)
    np.testing.assert_allclose(turned["gd"][0], rot @ ref["gd"][0], atol=1e-9)
    alpha = ref["p"].reshape(-1, 3, 3)
    np.testing.assert_allclose(turned["p"].reshape(-1, 3, 3),
                               np.einsum("ab,nbc,dc->nad", rot, alpha, rot), atol=1e-9)
    # permutation of same-type atoms (H atoms are 3..7)
    perm = np.array([0, 2, 1, 3, 7, 5, 4, 6])
    swapped = runner.run(fetch, coord.reshape(-1, 3)[perm].reshape(1, -1), box, atype)
    np.testing.assert_allclose(swapped["e"], ref["e"], rtol=1e-12)
    np.testing.assert_allclose(swapped["f"].reshape(-1, 3), ref["f"].reshape(-1, 3)[perm],
                               atol=1e-12)
    np.testing.assert_allclose(swapped["d"].reshape(-1, 3), ref["d"].reshape(-1, 3)[perm[:3]],
                               atol=1e-12)


def test_tensor_head_component_forces_match_finite_differences(rng):
    runner = _runner(rng, heads={"d": dict(DIPOLE)}, stats=False)
    coord, box, atype = random_system(rng, (2, 3), box_len=4.0)
    out = runner.out["d"]
    force, virial = runner.run([out["force"], out["virial"]], coord, box, atype)
    force = force.reshape(3, -1)
    for comp in range(3):
        glob = out["global_dipole"][:, comp]
        _assert_rel(force[comp][None], _fd_force(runner, glob, coord, box, atype))
        _assert_rel(virial[:, 9 * comp:9 * comp + 9], _fd_virial(runner, glob, coord, box, atype))


def test_energy_smooth_through_rcut(rng):
    runner = _runner(rng)
    rcut = 4.0
    atype = np.array([0, 1, 1], dtype=np.int32)

    def energy(dist):
        coord = np.array([[0.0, 0.0, 0.0, dist, 0.3, 0.0, -0.5, 0.8, 0.1]])
        return runner.run(runner.out["e"]["energy"], coord, None, atype, pbc=False)[0]

    inside, outside, far = energy(rcut - 1e-4), energy(rcut + 1e-6), energy(rcut + 1.0)
    assert outside == far  # beyond the cut-off the neighbour is simply absent
    assert abs(inside - outside) < 1e-10
    values = [energy(rcut - 0.05 + 0.01 * k) for k in range(6)]
    assert np.abs(np.diff(values)).max() < 1e-3 and len(set(values)) > 3


def test_excluded_pair_does_not_interact(rng):
    atype = np.array([0, 1, 1], dtype=np.int32)

    def energies(runner):
        out = []
        for d in (1.0, 1.5, 2.0):  # the O atom is beyond rcut of both H atoms
            coord = np.array([[0.0, 0.0, 0.0, 10.0, 0.0, 0.0, 10.0 + d, 0.2, 0.0]])
            out.append(runner.run(runner.out["e"]["energy"], coord, None, atype, pbc=False)[0])
        return np.array(out)

    excluded = energies(_runner(rng, exclude_types=[[1, 1]]))
    assert np.ptp(excluded) < 1e-12
    assert np.ptp(energies(_runner(rng))) > 1e-6


def test_isolated_atom_has_exactly_atom_ener(rng):
    heads = {"e": dict(ENER, atom_ener=[-7.25, None])}
    runner = _runner(rng, heads=heads, set_davg_zero=True)
    atype = np.array([0, 1], dtype=np.int32)
    coord = np.array([[0.0, 0.0, 0.0, 20.0, 0.0, 0.0]])
    atom_e = runner.run(runner.out["e"]["atom_energy"], coord, None, atype, pbc=False)
    assert atom_e[0, 0] == -7.25
    assert runner.var("heads/e/fitting_attr/t_bias_atom_e")[0] == -7.25


def test_seed_reproducible_and_float32_descriptor(rng):
    coord, box, atype = random_system(rng, (3, 5), box_len=4.5)

    def energy(**desc):
        run = _runner(rng, stats=False, **desc)
        return run, run.run(run.out["e"]["energy"], coord, box, atype)

    _, first = energy()
    _, again = energy()
    _, other = energy(seed=12)
    assert first == again and first != other
    run, e32 = energy(precision="float32")
    assert e32.dtype == np.float64
    assert run.var("filter_type_0/matrix_1_0").dtype == np.float32
    force = run.run(run.out["e"]["force"], coord, box, atype)
    fd = np.zeros_like(coord)
    step = 1e-3  # float32 nets: a larger step, a looser tolerance
    for k in range(coord.shape[1]):
        plus, minus = coord.copy(), coord.copy()
        plus[0, k] += step
        minus[0, k] -= step
        fd[0, k] = -(run.run(run.out["e"]["energy"], plus, box, atype)
                     - run.run(run.out["e"]["energy"], minus, box, atype))[0] / (2 * step)
    _assert_rel(force, fd, rel=2e-2)


def test_ghost_atoms_with_external_neighbour_list(rng):
    """LAMMPS-style input: local atoms, then ghosts, and a serialized nlist."""
    from deepmt import keys
    from deepmt.op import serialize_nlist

    runner = _runner(rng)
    out = runner.out["e"]
    coord, _, atype = random_system(rng, (3, 4), box_len=3.0)
    nloc = 5  # atoms 0-1 (O) and 2-4 (H) are local, atoms 5-6 (H) are ghosts
    local_types = atype[:nloc]
    nlist = [[j for j in range(len(atype)) if j != i] for i in range(nloc)]

    def feed(c):
        counts = np.bincount(local_types, minlength=2)
        return {runner.ph[keys.T_COORD]: c.reshape(-1), runner.ph[keys.T_TYPE]: atype,
                runner.ph[keys.T_NATOMS]: np.array([nloc, len(atype), *counts], np.int32),
                runner.ph[keys.T_BOX]: np.zeros(9),
                runner.ph[keys.T_MESH]: serialize_nlist(nloc, nlist)}

    energy, atom_e, force = runner.sess.run([out["energy"], out["atom_energy"], out["force"]],
                                            feed(coord))
    assert atom_e.shape == (1, nloc) and force.shape == (1, 3 * len(atype))
    # a local atom sees every atom, as in the plain cluster
    full = runner.run(out["atom_energy"], coord, None, atype, pbc=False)
    np.testing.assert_allclose(atom_e[0], full[0, :nloc], rtol=1e-12)
    fd = np.zeros(coord.shape[1])
    for k in range(coord.shape[1]):
        plus, minus = coord.copy(), coord.copy()
        plus[0, k] += H
        minus[0, k] -= H
        fd[k] = -(runner.sess.run(out["energy"], feed(plus))
                  - runner.sess.run(out["energy"], feed(minus)))[0] / (2 * H)
    _assert_rel(force[0], fd)  # ghosts get the forces of the local energy too
    assert np.abs(force[0, 3 * nloc:]).max() > 0
    np.testing.assert_allclose(energy, atom_e.sum(), rtol=1e-13)
