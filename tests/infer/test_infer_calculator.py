"""The ASE calculator follows the ASE contract and agrees with DeepPot."""

import numpy as np
import pytest
from infer_fakes import random_frames

from deepmt.errors import InputError
from deepmt.infer import DeepPot

ase = pytest.importorskip("ase")
from ase import Atoms  # noqa: E402
from ase.calculators.calculator import PropertyNotImplementedError  # noqa: E402
from ase.calculators.fd import calculate_numerical_forces  # noqa: E402

from deepmt.infer.calculator import DeepmtCalculator  # noqa: E402

SYMBOLS = ["O", "H", "C"]


def _atoms(periodic, seed=5):
    coord, cell, atype = random_frames(nframes=1, natoms=6, seed=seed, periodic=True)
    return Atoms(symbols=[SYMBOLS[t] for t in atype], positions=coord[0],
                 cell=cell.reshape(3, 3), pbc=periodic), coord, cell, atype


def test_results_match_deep_pot(united_model):
    atoms, coord, cell, atype = _atoms(True)
    atoms.calc = DeepmtCalculator(united_model)
    energy, force, virial = DeepPot(united_model).eval(coord, cell, atype)
    assert atoms.get_potential_energy() == pytest.approx(energy[0, 0], rel=1e-14)
    assert atoms.get_potential_energy(force_consistent=True) == pytest.approx(energy[0, 0])
    np.testing.assert_allclose(atoms.get_forces(), force[0], rtol=1e-13)
    virial = virial[0].reshape(3, 3)
    expected = -0.5 * (virial + virial.T) / atoms.get_volume()
    stress = atoms.get_stress(voigt=False)
    np.testing.assert_allclose(stress, expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(atoms.calc.results["virial"], virial, rtol=1e-13)


def test_numerical_forces(united_model):
    atoms, *_ = _atoms(True, seed=9)
    calc = DeepmtCalculator(united_model, head="water")
    atoms.calc = calc
    numeric = calculate_numerical_forces(atoms, eps=1e-5)
    np.testing.assert_allclose(atoms.get_forces(), numeric, atol=1e-8)


def test_open_boundaries_have_no_stress(united_model):
    atoms, coord, _, atype = _atoms(False)
    atoms.calc = DeepmtCalculator(DeepPot(united_model))
    energy = DeepPot(united_model).eval(coord, None, atype)[0]
    assert atoms.get_potential_energy() == pytest.approx(energy[0, 0], rel=1e-14)
    with pytest.raises(PropertyNotImplementedError):
        atoms.get_stress()


def test_type_dict_and_unknown_elements(united_model):
    atoms, coord, cell, atype = _atoms(True)
    # the calculator maps symbols with type_dict: swapping O and H changes the energy
    swapped = DeepmtCalculator(united_model, type_dict={"O": 1, "H": 0, "C": 2})
    atoms.calc = swapped
    energy = DeepPot(united_model).eval(coord, cell, np.array([1, 0, 2])[atype])[0]
    assert atoms.get_potential_energy() == pytest.approx(energy[0, 0], rel=1e-14)
    atoms.calc = DeepmtCalculator(united_model, type_dict={"O": 0, "H": 1})
    with pytest.raises(InputError, match=r"element\(s\) \['C'\]"):
        atoms.get_potential_energy()


def test_head_with_parameters(united_model):
    atoms, coord, cell, atype = _atoms(True)
    atoms.calc = DeepmtCalculator(united_model, head="param", fparam=[0.2, 0.4], aparam=[1.0])
    energy = DeepPot(united_model, head="param").eval(coord, cell, atype, fparam=[0.2, 0.4],
                                                      aparam=[1.0])[0]
    assert atoms.get_potential_energy() == pytest.approx(energy[0, 0], rel=1e-14)
