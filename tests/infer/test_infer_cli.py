"""``deepmt freeze``, ``deepmt show`` and ``deepmt test`` end to end.

The test systems are written here with labels = model prediction + known
offsets, so every printed error has an exact expected value.
"""

import json
import os
import re

import numpy as np
import pytest
from infer_fakes import HEADS, random_frames

from deepmt.entrypoints import main as cli_main
from deepmt.infer import DeepDipole, DeepPolar, DeepPot

#: the systems name their elements in another order than the model (O H C)
SYSTEM_TYPE_MAP = ["H", "C", "O"]
TO_MODEL = np.array([1, 2, 0])  # system type id -> model type id
COMPONENTS = ("xx", "xy", "xz", "yx", "yy", "yz", "zx", "zy", "zz")


def cli(argv):
    return cli_main.main(argv)


def _write_system(folder, model_types, coord, cell, labels):
    """A deepmd/npy system whose type.raw uses SYSTEM_TYPE_MAP ids."""
    os.makedirs(os.path.join(folder, "set.000"))
    to_system = np.argsort(TO_MODEL)
    np.savetxt(os.path.join(folder, "type.raw"), to_system[model_types], fmt="%d")
    with open(os.path.join(folder, "type_map.raw"), "w") as handle:
        handle.write("\n".join(SYSTEM_TYPE_MAP) + "\n")
    np.save(os.path.join(folder, "set.000", "coord.npy"), coord.reshape(len(coord), -1))
    if cell is None:
        open(os.path.join(folder, "nopbc"), "w").close()
    else:
        np.save(os.path.join(folder, "set.000", "box.npy"), cell)
    for key, value in labels.items():
        np.save(os.path.join(folder, "set.000", f"{key}.npy"), value.reshape(len(coord), -1))


def _metric(text, name):
    found = re.findall(rf"^{re.escape(name)}\s+: (\S+)", text, flags=re.M)
    return [float(v) for v in found]


@pytest.fixture(scope="module")
def energy_systems(united_model, tmp_path_factory):
    root = tmp_path_factory.mktemp("ener_data")
    pot = DeepPot(united_model)
    coord, cell, atype = random_frames(nframes=3, natoms=6, seed=31)
    e, f, v, ae, _ = pot.eval(coord, cell, atype, atomic=True)
    ae_offset = 0.01 * np.arange(6)  # per atom, in type.raw order
    _write_system(str(root / "a"), atype, coord, cell,
                  {"energy": e + 0.1, "force": f + 0.02, "virial": v - 0.3,
                   "atom_ener": ae[..., 0] + ae_offset})
    coord, _, atype = random_frames(nframes=2, natoms=4, seed=32, periodic=False)
    e, f, _ = pot.eval(coord, None, atype)
    _write_system(str(root / "b"), atype, coord, None,
                  {"energy": e + np.array([[0.2], [-0.2]]), "force": f})
    return root


def test_freeze_and_show(fake_checkpoint, tmp_path, capsys):
    out = str(tmp_path / "m.pb")
    assert cli(["freeze", "-c", os.path.dirname(fake_checkpoint), "-o", out]) == 0
    assert cli(["freeze", "-c", fake_checkpoint, "-o", str(tmp_path / "p.pb"),
                "--head", "POL"]) == 0
    assert "heads pol (polar)" in capsys.readouterr().out
    assert cli(["show", out]) == 0
    text = capsys.readouterr().out
    assert "type map     : O H C" in text and "default head : water" in text
    assert re.search(r"^\s+Dip\s+dipole\s+0\s+3\s+0\s+0\s+.*o_dipole", text, flags=re.M)
    assert re.search(r"^\s+param\s+ener\s+-\s+1\s+2\s+1\s+.*o_energy", text, flags=re.M)
    assert cli(["show", "--json", str(tmp_path / "p.pb")]) == 0
    info = json.loads(capsys.readouterr().out)
    assert list(info["heads"]) == ["pol"] and info["heads"]["pol"]["sel_type"] == [0, 2]
    assert "o_global_polar" in info["heads"]["pol"]["outputs"]
    assert info["rcut"] == 4.0 and info["sel"] == [4, 6, 2]


def test_cli_errors_are_one_line(tmp_path, united_model, capsys):
    assert cli(["freeze", "-c", str(tmp_path), "-o", str(tmp_path / "x.pb")]) == 1
    assert cli(["show", str(tmp_path / "none.pb")]) == 1
    assert cli(["test", "-m", united_model, "--head", "nope", "-s", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "deepmt freeze: error: no checkpoint found" in err
    assert "deepmt show: error: model file" in err
    assert "deepmt test: error: model" in err and "no head 'nope'" in err
    assert "Traceback" not in err


def test_energy_errors_and_detail_files(united_model, energy_systems, tmp_path, capsys):
    prefix = str(tmp_path / "detail.txt")
    assert cli(["test", "-m", united_model, "-s", str(energy_systems), "-d", prefix]) == 0
    text = capsys.readouterr().out
    assert _metric(text, "Energy MAE") == pytest.approx([0.1, 0.2, 0.14])
    assert _metric(text, "Energy RMSE") == pytest.approx([0.1, 0.2, np.sqrt(0.11 / 5)])
    # averages over systems weigh each system by its number of values
    assert _metric(text, "Energy MAE/Natoms") == pytest.approx([0.1 / 6, 0.05, 0.15 / 5])
    assert _metric(text, "Force  MAE") == pytest.approx([0.02, 0.0, 0.02 * 54 / 78])
    assert _metric(text, "Virial MAE") == pytest.approx([0.3, 0.3])  # periodic system only
    assert _metric(text, "Virial RMSE/Natoms") == pytest.approx([0.05, 0.05])
    assert "# number of systems : 2" in text
    energy = np.loadtxt(tmp_path / "detail.e.out")
    np.testing.assert_allclose(energy[:, 0] - energy[:, 1], [0.1] * 3 + [0.2, -0.2])
    per_atom = np.loadtxt(tmp_path / "detail.e_peratom.out")
    np.testing.assert_allclose(per_atom[:3] * 6, energy[:3], rtol=1e-14)
    np.testing.assert_allclose(per_atom[3:] * 4, energy[3:], rtol=1e-14)
    force = np.loadtxt(tmp_path / "detail.f.out")
    assert force.shape == (3 * 6 + 2 * 4, 6)
    np.testing.assert_allclose(force[:18, :3] - force[:18, 3:], 0.02, atol=1e-12)
    # virial rows only for the system with virial labels (b is not periodic)
    assert re.findall(r"^# no virial errors: (.*)$", text, flags=re.M) == [
        f"the system is not periodic; nothing written to {tmp_path / 'detail.v.out'} and "
        f"{tmp_path / 'detail.v_peratom.out'}"]
    virial = np.loadtxt(tmp_path / "detail.v.out")
    assert virial.shape == (3, 18)
    np.testing.assert_allclose(virial[:3, :9] - virial[:3, 9:], -0.3, atol=1e-12)
    np.testing.assert_allclose(np.loadtxt(tmp_path / "detail.v_peratom.out")[:3] * 6,
                               virial[:3], rtol=1e-12)
    headers = [line for line in open(tmp_path / "detail.f.out") if line.startswith("#")]
    assert len(headers) == 2 and headers[0].rstrip().endswith(
        "a: data_fx data_fy data_fz pred_fx pred_fy pred_fz")


def test_numb_test_limits_frames_and_atomic_energies(united_model, energy_systems, capsys):
    assert cli(["test", "-m", united_model, "-s", str(energy_systems / "a"), "-n", "2",
                "-a"]) == 0
    text = capsys.readouterr().out
    assert "# number of test data : 2" in text and "weighted average" not in text
    assert _metric(text, "Atomic ener MAE") == pytest.approx([0.025])
    assert _metric(text, "Atomic ener RMSE") == pytest.approx([np.sqrt(np.mean(
        (0.01 * np.arange(6)) ** 2))])


@pytest.fixture(scope="module")
def tensor_systems(united_model, tmp_path_factory):
    root = tmp_path_factory.mktemp("tensor_data")
    coord, cell, atype = random_frames(nframes=2, natoms=9, seed=41)
    polar = DeepPolar(united_model).eval(coord, cell, atype)
    offsets = 0.01 * np.arange(polar.size).reshape(polar.shape)
    _write_system(str(root / "polar_atomic"), atype, coord, cell,
                  {"atomic_polarizability": polar + offsets})
    dipole = DeepDipole(united_model).eval(coord, None, atype, atomic=False)
    _write_system(str(root / "dipole" / "global"), atype, coord, None,
                  {"dipole": dipole + np.array([0.3, 0.0, -0.4])})
    atomic = DeepDipole(united_model).eval(coord, None, atype)
    _write_system(str(root / "dipole" / "atomic"), atype, coord, None,
                  {"atomic_dipole": atomic + 0.05})
    selected = atype[np.isin(atype, HEADS["pol"]["sel_type"])]
    sorted_offsets = offsets[:, np.argsort(selected, kind="stable")]
    return root, sorted_offsets, int(np.isin(atype, [0]).sum())


def test_tensor_heads(united_model, tensor_systems, tmp_path, capsys):
    # detail files list atoms sorted by type, like the data batches
    root, offsets, n_oxygen = tensor_systems
    prefix = str(tmp_path / "pol")
    assert cli(["test", "-m", united_model, "--head", "pol", "-s",
                str(root / "polar_atomic"), "-d", prefix]) == 0
    text = capsys.readouterr().out
    assert _metric(text, "Polarizability RMSE") == pytest.approx([np.sqrt(np.mean(offsets ** 2))])
    assert "RMSE/sqrtN" not in text
    table = np.loadtxt(tmp_path / "pol.out")
    width = offsets[0].size
    assert table.shape == (2, 2 * width)
    np.testing.assert_allclose(table[:, :width] - table[:, width:], offsets.reshape(2, -1),
                               atol=1e-12)
    assert cli(["test", "-m", united_model, "--head", "dip", "-s",
                str(root / "dipole"), "-d", str(tmp_path / "dip")]) == 0
    text = capsys.readouterr().out
    rmse = np.sqrt(0.25 / 3)
    assert _metric(text, "Dipole RMSE") == pytest.approx([0.05, rmse])  # atomic, global
    assert _metric(text, "Dipole RMSE/sqrtN") == pytest.approx([rmse / np.sqrt(n_oxygen)])
    assert _metric(text, "Dipole RMSE/N") == pytest.approx([rmse / n_oxygen])
    # the average keeps errors against atomic and global labels apart
    assert _metric(text, "Dipole RMSE (atomic labels)") == pytest.approx([0.05])
    assert _metric(text, "Dipole RMSE (global labels)") == pytest.approx([rmse])
    headers = [line for line in open(tmp_path / "dip.out") if line.startswith("#")]
    assert headers[0].rstrip().endswith(f"pred_x{n_oxygen} pred_y{n_oxygen} pred_z{n_oxygen}")
    assert headers[1].rstrip().endswith("global: data_x data_y data_z pred_x pred_y pred_z")
    # -a insists on atomic labels, which the global system lacks
    assert cli(["test", "-m", united_model, "--head", "dip", "-a", "-s",
                str(root / "dipole" / "global")]) == 1
    assert "lacks atomic_dipole.npy" in capsys.readouterr().err


def test_heads_with_parameters_read_them_from_the_data(united_model, tmp_path, capsys):
    coord, cell, atype = random_frames(nframes=2, natoms=5, seed=51)
    fparam, aparam = np.array([[0.1, 0.2], [0.3, 0.4]]), np.linspace(0, 1, 10).reshape(2, 5, 1)
    e, f, v = DeepPot(united_model, head="param").eval(coord, cell, atype, fparam=fparam,
                                                       aparam=aparam)
    _write_system(str(tmp_path / "s"), atype, coord, cell,
                  {"energy": e, "force": f, "virial": v, "fparam": fparam, "aparam": aparam})
    assert cli(["test", "-m", united_model, "--head", "param", "-s", str(tmp_path / "s")]) == 0
    assert _metric(capsys.readouterr().out, "Energy MAE") == pytest.approx([0.0], abs=1e-12)
    assert HEADS["param"]["dim_fparam"] == 2


def test_virial_errors_need_virial_labels(united_model, tmp_path, capsys):
    """A periodic system without virial.npy gets no (meaningless) virial errors
    and no virial detail rows; a later system's rows start a fresh file."""
    pot = DeepPot(united_model)
    coord, cell, atype = random_frames(nframes=2, natoms=6, seed=41)
    e, f, v = pot.eval(coord, cell, atype)
    _write_system(str(tmp_path / "data" / "a_novirial"), atype, coord, cell,
                  {"energy": e, "force": f})
    prefix = tmp_path / "sub" / "detail"
    assert cli(["test", "-m", united_model, "--head", "water", "-s",
                str(tmp_path / "data" / "a_novirial"), "-d", str(prefix)]) == 0
    text = capsys.readouterr().out
    assert _metric(text, "Energy RMSE") and not _metric(text, "Virial RMSE")
    assert "# no virial errors: not every set has virial.npy; nothing written to" in text
    assert np.loadtxt(str(tmp_path / "sub" / "detail.e.out")).shape == (2, 2)
    assert not os.path.exists(f"{prefix}.v.out") and not os.path.exists(f"{prefix}.v_peratom.out")
    # a stale file from another run is replaced by the first system that has virials
    with open(f"{prefix}.v.out", "w") as handle:
        handle.write("# stale\n" + " ".join(["9"] * 18) + "\n")
    _write_system(str(tmp_path / "data" / "b_virial"), atype, coord, cell,
                  {"energy": e, "force": f, "virial": v + 0.5})
    assert cli(["test", "-m", united_model, "--head", "water", "-s", str(tmp_path / "data"),
                "-d", str(prefix)]) == 0
    assert _metric(capsys.readouterr().out, "Virial MAE") == pytest.approx([0.5, 0.5])
    virial = np.loadtxt(f"{prefix}.v.out")
    assert virial.shape == (2, 18)
    np.testing.assert_allclose(virial[:, :9] - virial[:, 9:], 0.5, atol=1e-12)
    with open(f"{prefix}.v.out") as handle:
        assert [line for line in handle if line.startswith("#")] == [
            f"# {tmp_path / 'data' / 'b_virial'}: " + " ".join(
                [f"data_v{c}" for c in COMPONENTS] + [f"pred_v{c}" for c in COMPONENTS]) + "\n"]
