"""Finite-difference checks of the env-matrix derivative, forces and virials.

Run on both backends: on the oracle they validate the oracle, on the ops
they validate the kernels independently of the oracle.  Every perturbed
configuration is one frame of a single batched call.

Toy energy: ``E = sum(w * descrpt)`` with random per-slot weights ``w``, so
``net_deriv = w``; the weights break rotation invariance on purpose, which
makes the virial non-symmetric and tests its index order.
"""

import numpy as np
import pytest

from reference.systems import random_stats, random_system

H = 1e-5


def _geometry(name):
    rng = np.random.default_rng(sum(map(ord, name)) + 7)
    if name == "pbc":
        return random_system(rng, 6, 2, lengths=[5.0, 5.5, 6.0], min_dist=1.0), 4.0, 1.0, [24, 24]
    if name == "short_cell":
        return random_system(rng, 4, 2, lengths=[2.6, 3.0, 3.4], tilt=0.4, min_dist=1.0), 4.5, 1.5, [70, 70]
    if name == "nopbc":
        return random_system(rng, 7, 3, extent=4.0, min_dist=1.0), 4.0, 1.0, [6, 6, 6]
    raise KeyError(name)


def _displaced(coord, h):
    """Frame 0 = ``coord``; frames ``1 + 2m`` / ``2 + 2m`` move component ``m`` by +h / -h."""
    frames = np.repeat(coord[None, :], 1 + 2 * len(coord), axis=0)
    m = np.arange(len(coord))
    frames[1 + 2 * m, m] += h
    frames[2 + 2 * m, m] -= h
    return frames


def _strained(coord, box, delta):
    """Frames ``r (I + eps)``, ``h (I + eps)`` for eps = +-delta at each (b, a); frame 0 unstrained."""
    nat = len(coord) // 3
    coords, boxes = [coord], [box]
    for b in range(3):
        for a in range(3):
            for sign in (1.0, -1.0):
                eps = np.eye(3)
                eps[b, a] += sign * delta
                coords.append((coord.reshape(nat, 3) @ eps).reshape(-1))
                boxes.append(None if box is None else (box.reshape(3, 3) @ eps).reshape(-1))
    return np.stack(coords), None if box is None else np.stack(boxes)


def _run(backend, system, coords, boxes, rcut, rcut_smth, sel, kind, stats):
    """Env matrix of all frames, plus the slots whose content jumps between frames.

    Only exactly tied self-images (``+L`` and ``-L`` of the centre itself, in
    a cell shorter than rcut) may swap places when a float32 rounding flips;
    any other change means the geometry is unfit for finite differences.
    """
    out = backend.env_mat(coords, system.atype, boxes, rcut=rcut, rcut_smth=rcut_smth, sel=sel,
                          davg=stats[0], dstd=stats[1], kind=kind)
    same = np.all(out["nlist"] == out["nlist"][0], axis=1)
    assert np.all(same), f"geometry too close to a neighbour-order change: frames {np.nonzero(~same)[0]}"
    nat = system.natoms
    rij = out["rij"].reshape(len(coords), nat, -1, 3)
    swapped = np.any(np.abs(rij - rij[:1]) > 1e-3, axis=(0, 3))
    self_image = out["nlist"][0].reshape(nat, -1) == np.arange(nat)[:, None]
    assert not np.any(swapped & ~self_image), "a non-self-image slot changed between frames"
    return out, swapped


def _setup(name, kind):
    """Geometry, statistics and toy-energy weights ``w [1, nloc*nnei*ncomp]``.

    In the short cell, tied self-images may swap slots between frames, so
    there the statistics and weights are the same for every slot of a type
    block (E then ignores the order inside a block); elsewhere every slot
    has its own weight.
    """
    system, rcut, rcut_smth, sel = _geometry(name)
    rng = np.random.default_rng(3)
    ncomp = 4 if kind == "a" else 1
    tiled = name == "short_cell"
    stats = random_stats(rng, len(sel), sum(sel), ncomp, tiled=tiled)
    if tiled:
        per_block = rng.normal(size=(system.natoms, len(sel), ncomp))
        weights = np.repeat(per_block, sel, axis=1).reshape(1, -1)
    else:
        weights = rng.normal(size=(1, system.natoms * sum(sel) * ncomp))
    return system, rcut, rcut_smth, sel, stats, weights


@pytest.mark.parametrize("kind", ["a", "r"])
@pytest.mark.parametrize("name", ["pbc", "short_cell", "nopbc"])
def test_descrpt_deriv_by_finite_differences(backend, name, kind):
    system, rcut, rcut_smth, sel, stats, _ = _setup(name, kind)
    coords = _displaced(system.coord[0], H)
    boxes = None if system.box is None else np.repeat(system.box[:1], len(coords), axis=0)
    out, swapped = _run(backend, system, coords, boxes, rcut, rcut_smth, sel, kind, stats)
    nat, nnei = system.natoms, sum(sel)
    desc = out["descrpt"].reshape(len(coords), nat, nnei, -1)
    deriv = out["descrpt_deriv"][0].reshape(nat, nnei, -1, 3)
    nlist = out["nlist"][0].reshape(nat, nnei)
    for k in range(nat):
        for d in range(3):
            m = 3 * k + d
            fd = (desc[1 + 2 * m] - desc[2 + 2 * m]) / (2 * H)
            # centre term for atom k, minus the term of every slot holding k (or an image of k)
            want = -deriv[..., d] * (nlist == k)[..., None]
            want[k] += deriv[k, ..., d]
            fd[swapped], want[swapped] = 0.0, 0.0
            np.testing.assert_allclose(fd, want, rtol=1e-6, atol=2e-7,
                                       err_msg=f"{backend.name} {name}/{kind}: d descrpt / d r[{k},{d}]")


@pytest.mark.parametrize("kind", ["a", "r"])
@pytest.mark.parametrize("name", ["pbc", "short_cell", "nopbc"])
def test_force_by_finite_differences(backend, name, kind):
    system, rcut, rcut_smth, sel, stats, w = _setup(name, kind)
    coords = _displaced(system.coord[0], H)
    boxes = None if system.box is None else np.repeat(system.box[:1], len(coords), axis=0)
    out, _ = _run(backend, system, coords, boxes, rcut, rcut_smth, sel, kind, stats)
    energy = out["descrpt"] @ w[0]
    nat = system.natoms
    force = backend.prod_force(w, out["descrpt_deriv"][:1], out["nlist"][:1], nat)
    fd = -(energy[1::2] - energy[2::2]) / (2 * H)
    scale = max(1.0, np.abs(force).max())
    np.testing.assert_allclose(force[0], fd, rtol=0, atol=1e-7 * scale,
                               err_msg=f"{backend.name} {name}/{kind}: force vs -dE/dr")
    # E is translation invariant: the forces sum to zero
    np.testing.assert_allclose(force.reshape(nat, 3).sum(axis=0), 0.0, atol=1e-10 * scale)


@pytest.mark.parametrize("kind", ["a", "r"])
@pytest.mark.parametrize("name", ["pbc", "short_cell", "nopbc"])
def test_virial_by_strain_finite_differences(backend, name, kind):
    system, rcut, rcut_smth, sel, stats, w = _setup(name, kind)
    box = None if system.box is None else system.box[0]
    coords, boxes = _strained(system.coord[0], box, H)
    out, _ = _run(backend, system, coords, boxes, rcut, rcut_smth, sel, kind, stats)
    energy = out["descrpt"] @ w[0]
    nat = system.natoms
    virial, atom_virial = backend.prod_virial(w, out["descrpt_deriv"][:1], out["rij"][:1],
                                              out["nlist"][:1], nat)
    # frames 1 + 2(3b + a) / 2 + 2(3b + a) strain eps[b, a]; virial[a, b] = -dE/d eps[b, a]
    fd = -(energy[1::2] - energy[2::2]).reshape(3, 3).T / (2 * H)
    scale = max(1.0, np.abs(virial).max())
    np.testing.assert_allclose(virial[0].reshape(3, 3), fd, rtol=0, atol=1e-7 * scale,
                               err_msg=f"{backend.name} {name}/{kind}: virial vs strain derivative")
    v = virial[0].reshape(3, 3)
    if kind == "a":
        assert np.abs(v - v.T).max() > 1e-3 * scale, "test energy should give a non-symmetric virial"
    np.testing.assert_allclose(atom_virial.reshape(nat, 9).sum(axis=0), virial[0], rtol=1e-12,
                               atol=1e-12 * scale)


@pytest.mark.parametrize("kind", ["a", "r"])
def test_nopbc_virial_is_force_times_position(backend, kind):
    system, rcut, rcut_smth, sel, stats, w = _setup("nopbc", kind)
    out = backend.env_mat(system.coord, system.atype, None, rcut=rcut, rcut_smth=rcut_smth,
                          sel=sel, davg=stats[0], dstd=stats[1], kind=kind)
    nat = system.natoms
    force = backend.prod_force(w, out["descrpt_deriv"], out["nlist"], nat).reshape(nat, 3)
    virial, _ = backend.prod_virial(w, out["descrpt_deriv"], out["rij"], out["nlist"], nat)
    want = np.einsum("ka,kb->ab", force, system.coord.reshape(nat, 3))
    np.testing.assert_allclose(virial[0].reshape(3, 3), want, rtol=1e-10, atol=1e-10)
