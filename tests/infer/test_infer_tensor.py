"""DeepDipole / DeepPolar: selected-atom order, global sums, derivatives."""

import numpy as np
import pytest
from infer_fakes import random_frames, reference_tensor

from deepmt.errors import ModelFileError
from deepmt.infer import DeepDipole, DeepPolar


@pytest.fixture(scope="module")
def dipole(united_model):
    return DeepDipole(united_model)


@pytest.fixture(scope="module")
def polar(united_model):
    return DeepPolar(united_model, head="pol")


@pytest.mark.parametrize("periodic", [True, False])
@pytest.mark.parametrize("which", ["dipole", "polar"])
def test_atomic_values_match_reference_in_input_order(which, periodic, dipole, polar,
                                                      fake_weights):
    evaluator = dipole if which == "dipole" else polar
    coord, cell, atype = random_frames(nframes=3, natoms=9, seed=13, periodic=periodic)
    atomic = evaluator.eval(coord, cell, atype)
    nsel = int(np.isin(atype, evaluator.get_sel_type()).sum())
    assert atomic.shape == (3, nsel, evaluator.output_dim)
    reference = reference_tensor(fake_weights, evaluator.head, coord, cell, atype)
    np.testing.assert_allclose(atomic, reference, rtol=1e-12, atol=1e-14)
    total = evaluator.eval(coord, cell, atype, atomic=False)
    np.testing.assert_allclose(total, reference.sum(axis=1), rtol=1e-12, atol=1e-14)


def test_getters(dipole, polar):
    assert dipole.output_dim == 3 and dipole.get_sel_type() == [0]
    assert polar.output_dim == 9 and polar.get_sel_type() == [0, 2]


def test_eval_full_shapes_and_sums(polar):
    coord, cell, atype = random_frames(nframes=2, natoms=6, seed=3)
    glob, force, virial, atomic, atom_virial = polar.eval_full(coord, cell, atype, atomic=True)
    nsel = int(np.isin(atype, [0, 2]).sum())
    assert glob.shape == (2, 9) and force.shape == (2, 9, 6, 3) and virial.shape == (2, 9, 9)
    assert atomic.shape == (2, nsel, 9) and atom_virial.shape == (2, 9, 6, 9)
    np.testing.assert_allclose(atomic.sum(axis=1), glob, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(atom_virial.sum(axis=2), virial, rtol=1e-12, atol=1e-14)
    assert len(polar.eval_full(coord, cell, atype)) == 3


def test_eval_full_force_is_minus_gradient_in_input_order(dipole):
    coord, cell, atype = random_frames(nframes=1, natoms=5, seed=17)
    _, force, _ = dipole.eval_full(coord, cell, atype)
    step = 1e-5
    moved = []
    for atom in range(5):
        for axis in range(3):
            for sign in (1, -1):
                frame = coord[0].copy()
                frame[atom, axis] += sign * step
                moved.append(frame)
    glob = dipole.eval(np.array(moved), cell[0], atype, atomic=False).reshape(5, 3, 2, 3)
    numeric = -(glob[:, :, 0] - glob[:, :, 1]) / (2 * step)  # atom x axis x component
    np.testing.assert_allclose(force[0], numeric.transpose(2, 0, 1), atol=1e-8)


def test_eval_full_needs_derivative_outputs(united_model):
    dipole = DeepDipole(united_model)
    dipole._model.outputs["Dip"] = ["o_dipole", "o_global_dipole"]
    coord, cell, atype = random_frames(nframes=1, natoms=4)
    with pytest.raises(ModelFileError, match="frozen without o_force, o_virial"):
        dipole.eval_full(coord, cell, atype)
