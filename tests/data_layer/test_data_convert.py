"""deepmt convert: dpdata formats -> deepmd/npy -> DataSystem, and the split."""

import os

import numpy as np
import pytest

from deepmt.data import DataRequirement, DataSystem
from deepmt.data.convert import convert, split_frames
from deepmt.errors import ConfigError, DataError

POSCAR = """water
1.0
5.0 0.0 0.0
0.0 6.0 0.0
0.0 0.0 7.0
H O
2 1
Cartesian
0.1 0.2 0.3
1.1 1.2 1.3
2.0 2.5 3.0
"""

REQS = [DataRequirement("energy", 1), DataRequirement("force", 3, atomic=True)]


@pytest.fixture
def trajectory(tmp_path):
    """5 labelled H2O frames written by ASE; returns (file, energies, forces, coords)."""
    ase = pytest.importorskip("ase")
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.io.trajectory import Trajectory

    rng = np.random.default_rng(0)
    file = str(tmp_path / "h2o.traj")
    energies, forces, coords = [], [], []
    with Trajectory(file, "w") as traj:
        for i in range(5):
            atoms = ase.Atoms("H2O", positions=rng.uniform(0, 5, (3, 3)), cell=[6, 7, 8],
                              pbc=True)
            force = rng.normal(size=(3, 3))
            atoms.calc = SinglePointCalculator(atoms, energy=-10.0 + i, forces=force)
            traj.write(atoms)
            energies.append(-10.0 + i)
            forces.append(force)
            coords.append(atoms.positions.copy())
    return file, np.array(energies), np.array(forces), np.array(coords)


def test_poscar_type_map_order(tmp_path):
    (tmp_path / "POSCAR").write_text(POSCAR)
    out = str(tmp_path / "out")
    assert convert(str(tmp_path / "POSCAR"), "vasp/poscar", out, type_map=["O", "H"]) == {out: 1}
    system = DataSystem(out, ["O", "H"], REQS)
    # O listed first in type_map.raw: the O atom (3rd in the file) sorts first
    np.testing.assert_array_equal(system.atom_types, [1, 1, 0])
    batch = system.load_set(0)
    np.testing.assert_allclose(batch["coord"], [[2.0, 2.5, 3.0, 0.1, 0.2, 0.3, 1.1, 1.2, 1.3]])
    np.testing.assert_allclose(batch["box"], [[5, 0, 0, 0, 6, 0, 0, 0, 7]])
    assert batch["find_energy"] == 0.0


def test_labelled_round_trip(trajectory, tmp_path):
    file, energies, forces, coords = trajectory
    out = str(tmp_path / "npy")
    convert(file, "ase/traj", out, type_map=["O", "H"])
    system = DataSystem(out, ["O", "H"], REQS)
    batch = system.load_set(0)
    np.testing.assert_allclose(batch["energy"][:, 0], energies)
    np.testing.assert_allclose(system.to_user_order(batch["force"], 3), forces.reshape(5, 9))
    np.testing.assert_allclose(system.to_user_order(batch["coord"], 3), coords.reshape(5, 9))


def test_split_writes_disjoint_train_and_valid(trajectory, tmp_path):
    file, energies, _, _ = trajectory
    out = str(tmp_path / "split")
    written = convert(file, "ase/traj", out, type_map=["O", "H"], split=0.4, seed=3)
    assert written == {os.path.join(out, "train"): 3, os.path.join(out, "valid"): 2}
    parts = {p: DataSystem(os.path.join(out, p), ["O", "H"], REQS).load_set(0)["energy"][:, 0]
             for p in ("train", "valid")}
    np.testing.assert_allclose(np.sort(np.concatenate(list(parts.values()))), energies)
    again = str(tmp_path / "again")
    convert(file, "ase/traj", again, type_map=["O", "H"], split=0.4, seed=3)
    valid_again = DataSystem(os.path.join(again, "valid"), ["O", "H"], REQS).load_set(0)
    np.testing.assert_array_equal(valid_again["energy"][:, 0], parts["valid"])


def test_split_frames_rule():
    parts = split_frames(10, 0.25, seed=0)
    assert parts["valid"].size == 2 and parts["train"].size == 8  # round(2.5) = 2
    assert sorted(np.concatenate([parts["train"], parts["valid"]])) == list(range(10))
    assert split_frames(10, 0.01, seed=0)["valid"].size == 1
    with pytest.raises(ConfigError, match="between 0 and 1"):
        split_frames(10, 1.0, seed=0)
    with pytest.raises(DataError, match="at least one frame"):
        split_frames(1, 0.5, seed=0)


def test_conversion_errors(tmp_path):
    (tmp_path / "POSCAR").write_text(POSCAR)
    poscar = str(tmp_path / "POSCAR")
    with pytest.raises(DataError, match="unknown input format 'vasp/poscr'.*vasp/poscar"):
        convert(poscar, "vasp/poscr", str(tmp_path / "a"))
    with pytest.raises(DataError, match=r"\['H'\] that are not in --type-map"):
        convert(poscar, "vasp/poscar", str(tmp_path / "b"), type_map=["O"])
    with pytest.raises(DataError, match="does not exist"):
        convert(str(tmp_path / "missing"), "vasp/poscar", str(tmp_path / "c"))
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("")
    with pytest.raises(DataError, match="not an empty folder"):
        convert(poscar, "vasp/poscar", str(tmp_path / "busy"))
    (tmp_path / "garbage").write_text("not a poscar\n")
    with pytest.raises(DataError, match="dpdata could not read"):
        convert(str(tmp_path / "garbage"), "vasp/poscar", str(tmp_path / "d"))


def test_cli(tmp_path, capsys):
    import importlib.util

    from deepmt.entrypoints.main import COMMANDS, main

    if any(importlib.util.find_spec(f"deepmt.entrypoints.{m}") is None
           for m in COMMANDS.values()):
        pytest.skip("not every entrypoint module exists yet")
    (tmp_path / "POSCAR").write_text(POSCAR)
    out = str(tmp_path / "out")
    assert main(["convert", str(tmp_path / "POSCAR"), "-f", "vasp/poscar", "-o", out,
                 "--type-map", "O", "H"]) == 0
    assert open(os.path.join(out, "type_map.raw")).read().split() == ["O", "H"]
    assert main(["convert", str(tmp_path / "POSCAR"), "-f", "nope", "-o", out + "2"]) == 1
    assert "Traceback" not in capsys.readouterr().err
