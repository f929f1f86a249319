"""DeepPot: values against a NumPy oracle, atom order, batching, derivatives, input errors."""

import numpy as np
import pytest
from infer_fakes import TYPE_MAP, random_frames, reference_energy

from deepmt.errors import InputError
from deepmt.infer import DeepPot


@pytest.fixture(scope="module")
def water(united_model):
    return DeepPot(united_model, head="water")


@pytest.mark.parametrize("periodic", [True, False])
def test_energy_matches_numpy_reference(water, fake_weights, periodic):
    coord, cell, atype = random_frames(nframes=4, natoms=8, seed=11, periodic=periodic)
    energy, force, virial, atom_e, atom_v = water.eval(coord, cell, atype, atomic=True)
    ref_e, ref_atom_e = reference_energy(fake_weights, "water", coord, cell, atype)
    assert energy.shape == (4, 1) and force.shape == (4, 8, 3) and virial.shape == (4, 9)
    assert atom_e.shape == (4, 8, 1) and atom_v.shape == (4, 8, 9)
    np.testing.assert_allclose(energy[:, 0], ref_e, rtol=1e-12)
    np.testing.assert_allclose(atom_e[..., 0], ref_atom_e, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(atom_v.sum(axis=1), virial, rtol=1e-12, atol=1e-12)


def test_periodic_cell_is_used(water):
    coord, cell, atype = random_frames(nframes=1, natoms=6, seed=3)
    e_pbc = water.eval(coord, cell, atype)[0]
    e_open = water.eval(coord, None, atype)[0]
    assert abs(e_pbc - e_open).max() > 1e-6
    # a single 3x3 cell is accepted for one frame, and a lattice shift changes nothing
    shifted = coord.copy()
    shifted[0, 2] += cell.reshape(3, 3)[1]
    np.testing.assert_allclose(water.eval(shifted, cell.reshape(3, 3), atype)[0], e_pbc,
                               rtol=1e-12)


def test_forces_are_minus_energy_gradient(water):
    coord, cell, atype = random_frames(nframes=1, natoms=5, seed=21)
    _, force, _ = water.eval(coord, cell, atype)
    step = 1e-5
    shifted = []
    for atom in range(5):
        for axis in range(3):
            for sign in (1, -1):
                moved = coord.copy()
                moved[0, atom, axis] += sign * step
                shifted.append(moved[0])
    energies = water.eval(np.array(shifted), cell.reshape(1, 9), atype)[0].reshape(5, 3, 2)
    numeric = -(energies[..., 0] - energies[..., 1]) / (2 * step)
    np.testing.assert_allclose(force[0], numeric, atol=1e-8)


def test_atom_order_is_restored(water):
    coord, cell, atype = random_frames(nframes=2, natoms=7, seed=8)
    perm = np.random.default_rng(0).permutation(7)
    out = water.eval(coord, cell, atype, atomic=True)
    out_perm = water.eval(coord[:, perm], cell, atype[perm], atomic=True)
    np.testing.assert_allclose(out_perm[0], out[0], rtol=1e-13)
    np.testing.assert_allclose(out_perm[2], out[2], rtol=1e-12, atol=1e-13)
    for per_atom_index in (1, 3, 4):
        np.testing.assert_allclose(out_perm[per_atom_index], out[per_atom_index][:, perm],
                                   rtol=1e-12, atol=1e-13)


def test_batching_does_not_change_results(united_model, water):
    coord, cell, atype = random_frames(nframes=5, natoms=7, seed=9)
    one_per_run = DeepPot(united_model, head="water", batch_size=1)
    many = water.eval(coord, cell, atype, atomic=True)
    chunked = one_per_run.eval(coord, cell, atype, atomic=True)
    single = [water.eval(coord[i], cell[i], atype) for i in range(5)]
    # chunk size changes the matrix shapes, hence the last bits of a float64 sum
    for a, b in zip(many, chunked):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(np.concatenate([s[0] for s in single]), many[0], rtol=1e-14)
    # flat coordinates [nf, nat*3] are accepted too
    np.testing.assert_array_equal(water.eval(coord.reshape(5, -1), cell, atype)[0], many[0])


def test_batch_size_from_environment(united_model, monkeypatch):
    monkeypatch.setenv("DEEPMT_INFER_BATCH_SIZE", "14")
    assert DeepPot(united_model, head="water")._atoms_per_run == 14
    monkeypatch.setenv("DEEPMT_INFER_BATCH_SIZE", "lots")
    with pytest.raises(InputError, match="DEEPMT_INFER_BATCH_SIZE"):
        DeepPot(united_model, head="water")
    with pytest.raises(InputError, match="batch_size"):
        DeepPot(united_model, head="water", batch_size=0)


def test_fparam_and_aparam(united_model, fake_weights):
    pot = DeepPot(united_model, head="param")
    assert pot.get_dim_fparam() == 2 and pot.get_dim_aparam() == 1
    coord, cell, atype = random_frames(nframes=3, natoms=6, seed=2)
    fparam = np.array([[0.1, 0.2], [0.3, -0.1], [1.0, 0.5]])
    aparam = np.random.default_rng(1).normal(size=(3, 6, 1))
    energy = pot.eval(coord, cell, atype, fparam=fparam, aparam=aparam)[0][:, 0]
    ref, _ = reference_energy(fake_weights, "param", coord, cell, atype, fparam, aparam)
    np.testing.assert_allclose(energy, ref, rtol=1e-12)
    # broadcasting: one fparam row for all frames, one aparam block for all frames
    same = pot.eval(coord, cell, atype, fparam=fparam[0], aparam=aparam[0])[0][:, 0]
    ref_same, _ = reference_energy(fake_weights, "param", coord, cell, atype,
                                   np.tile(fparam[0], (3, 1)), np.tile(aparam[0], (3, 1, 1)))
    np.testing.assert_allclose(same, ref_same, rtol=1e-12)
    # aparam follows its atom when atoms are permuted
    perm = np.array([5, 3, 1, 0, 2, 4])
    permuted = pot.eval(coord[:, perm], cell, atype[perm], fparam=fparam,
                        aparam=aparam[:, perm])[0][:, 0]
    np.testing.assert_allclose(permuted, energy, rtol=1e-13)


@pytest.mark.parametrize("kwargs, message", [
    ({}, "needs fparam"),
    ({"fparam": [1.0, 2.0]}, "needs aparam"),
    ({"fparam": [1.0, 2.0, 3.0], "aparam": [1.0]}, r"fparam of head 'param' must be \[2, 2\]"),
    ({"fparam": [1.0, 2.0], "aparam": np.ones((2, 5, 1))}, r"aparam of head 'param' must be"),
])
def test_param_errors(united_model, kwargs, message):
    pot = DeepPot(united_model, head="param")
    coord, cell, atype = random_frames(nframes=2, natoms=6, seed=2)
    with pytest.raises(InputError, match=message):
        pot.eval(coord, cell, atype, **kwargs)


def test_unexpected_fparam_is_an_error(water):
    coord, cell, atype = random_frames(nframes=1, natoms=4)
    with pytest.raises(InputError, match="takes no fparam"):
        water.eval(coord, cell, atype, fparam=[1.0])


@pytest.mark.parametrize("case, message", [
    ("coord_size", r"coords must hold nframes x 4 atoms x 3"),
    ("type_range", r"atom_types\[2\] = 3 is not a type of this model.*\['O', 'H', 'C'\]"),
    ("type_negative", r"atom_types\[0\] = -1 is not a type"),
    ("type_float", "must hold integers"),
    ("type_rows", "same for every frame"),
    ("cell_shape", r"cells must be nframes x 9"),
    ("cell_singular", "singular"),
    ("coord_nan", "frame 1 contain NaN"),
    ("empty", "non-empty"),
])
def test_input_errors(water, case, message):
    coord, cell, atype = random_frames(nframes=2, natoms=4, seed=1)
    if case == "coord_size":
        coord = coord.reshape(-1)[:-1]
    elif case == "type_range":
        atype = np.array([0, 1, 3, 2])
    elif case == "type_negative":
        atype = np.array([-1, 1, 0, 2])
    elif case == "type_float":
        atype = atype.astype(float)
    elif case == "type_rows":
        atype = np.array([[0, 1, 1, 2], [1, 1, 0, 2]])
    elif case == "cell_shape":
        cell = np.ones((2, 8))
    elif case == "cell_singular":
        cell = np.zeros((2, 9))
    elif case == "coord_nan":
        coord[1, 0, 0] = np.nan
    elif case == "empty":
        atype = np.array([], dtype=int)
    with pytest.raises(InputError, match=message):
        water.eval(coord, cell, atype)


def test_getters(water):
    assert water.get_type_map() == TYPE_MAP and water.get_ntypes() == 3
    assert water.get_rcut() == 4.0 and water.get_sel() == [4, 6, 2]
    assert water.get_dim_fparam() == 0 and water.get_descriptor()["type"] == "fake"
    coord, cell, atype = random_frames(nframes=2, natoms=5)
    assert water.eval_descriptor(coord, cell, atype).shape == (2, 5, 6)
