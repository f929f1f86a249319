"""DataSystem: type remapping, sorting, label layouts, flags, defaults."""

import numpy as np
import pytest

from deepmt.data import DataRequirement, DataSystem, merge_requirements

ENER_REQS = [
    DataRequirement("energy", 1),
    DataRequirement("force", 3, atomic=True),
    DataRequirement("virial", 9),
    DataRequirement("atom_ener", 1, atomic=True),
    DataRequirement("atom_pref", 1, atomic=True, repeat=3),
]


def _per_atom(array, nat, perm):
    """``nf x nat*k`` -> atoms gathered by perm, flattened."""
    nf = array.shape[0]
    return array.reshape(nf, nat, -1)[:, perm].reshape(nf, -1)


def test_types_remapped_by_name_and_sorted(make_system):
    # system map H O, model map O H C: raw 1 (O) -> 0, raw 0 (H) -> 1
    path, _ = make_system("s", [1, 0, 1, 0, 0], type_map=["H", "O"])
    system = DataSystem(path, type_map=["O", "H", "C"])
    np.testing.assert_array_equal(system.atom_types, [0, 1, 0, 1, 1])
    np.testing.assert_array_equal(system.sort_index, [0, 2, 1, 3, 4])
    np.testing.assert_array_equal(system.natoms_vec, [5, 5, 2, 3, 0])
    batch = system.load_set(0)
    np.testing.assert_array_equal(batch["type"], np.tile([0, 0, 1, 1, 1], (3, 1)))
    assert batch["type"].dtype == np.int32 and batch["natoms_vec"].dtype == np.int32


def test_stable_sort_keeps_order_within_a_type(make_system):
    path, _ = make_system("s", [1, 0, 1, 1, 0, 0, 1], type_map=["O", "H"])
    system = DataSystem(path, type_map=["O", "H"])
    np.testing.assert_array_equal(system.sort_index, [1, 4, 5, 0, 2, 3, 6])


def test_atomic_labels_follow_the_sort(make_system):
    types = [1, 0, 1, 0, 0]
    path, written = make_system("s", types, type_map=["H", "O"],
                                labels=("energy", "force", "atom_ener", "atom_pref", "virial"))
    system = DataSystem(path, type_map=["O", "H"], requirements=ENER_REQS)
    perm = system.sort_index
    data, batch = written["set.000"], system.load_set(0)
    np.testing.assert_array_equal(batch["coord"], _per_atom(data["coord"], 5, perm))
    np.testing.assert_array_equal(batch["force"], _per_atom(data["force"], 5, perm))
    np.testing.assert_array_equal(batch["atom_ener"], _per_atom(data["atom_ener"], 5, perm))
    np.testing.assert_array_equal(batch["energy"], data["energy"])
    np.testing.assert_array_equal(batch["virial"], data["virial"])
    np.testing.assert_array_equal(batch["box"], data["box"])
    # atom_pref: one weight per atom, repeated for the 3 force components
    expected = np.repeat(data["atom_pref"][:, perm], 3, axis=1)
    assert batch["atom_pref"].shape == (3, 15)
    np.testing.assert_array_equal(batch["atom_pref"], expected)
    for key in ("coord", "box", "force", "energy", "atom_pref"):
        assert batch[key].dtype == np.float64


def test_user_order_round_trip(make_system):
    path, written = make_system("s", [1, 0, 1, 0], type_map=["H", "O"], labels=("force",))
    system = DataSystem(path, ["O", "H"], [DataRequirement("force", 3, atomic=True)])
    batch = system.load_set(0)
    np.testing.assert_array_equal(system.to_user_order(batch["force"], 3),
                                  written["set.000"]["force"])


def test_selected_type_tensor_layout(make_system):
    # model types O=0 H=1 C=2; atoms (user order): C O H C O; labels for O and C only
    types_raw = [2, 0, 1, 2, 0]
    nf = 2
    values = np.arange(nf * 4 * 3, dtype=float).reshape(nf, 4, 3)  # sel atoms 0,1,3,4
    sel_layout = {"set.000": {"atomic_dipole": values.reshape(nf, 12)}}
    path, _ = make_system("s", types_raw, type_map=["O", "H", "C"], sets=(nf,),
                          labels=(), arrays=sel_layout)
    req = DataRequirement("atomic_dipole", 3, atomic=True, type_sel=(2, 0))
    batch = DataSystem(path, ["O", "H", "C"], [req]).load_set(0)
    # sorted selected atoms: O atoms (user 1, 4) then C atoms (user 0, 3)
    expected = values[:, [1, 3, 0, 2]].reshape(nf, 12)
    np.testing.assert_array_equal(batch["atomic_dipole"], expected)
    assert batch["find_atomic_dipole"] == 1.0

    # the same labels given for every atom (zeros for H) read the same
    full = np.zeros((nf, 5, 3))
    full[:, [0, 1, 3, 4]] = values
    path2, _ = make_system("s2", types_raw, type_map=["O", "H", "C"], sets=(nf,), labels=(),
                           arrays={"set.000": {"atomic_dipole": full.reshape(nf, 15)}})
    batch2 = DataSystem(path2, ["O", "H", "C"], [req]).load_set(0)
    np.testing.assert_array_equal(batch2["atomic_dipole"], expected)


def test_selected_type_absent_gives_empty_block(make_system):
    path, _ = make_system("s", [1, 1], type_map=["O", "H"], labels=())
    req = DataRequirement("atomic_dipole", 3, atomic=True, type_sel=(0,))
    batch = DataSystem(path, ["O", "H"], [req]).load_set(0)
    assert batch["atomic_dipole"].shape == (3, 0)
    assert batch["find_atomic_dipole"] == 0.0


def test_find_flags_and_defaults_per_set(make_system):
    arrays = {"set.000": {"energy": np.ones((2, 1))}}
    path, written = make_system("s", [0, 1], type_map=["O", "H"], sets=(2, 3), labels=(),
                                arrays=arrays)
    reqs = [DataRequirement("energy", 1), DataRequirement("virial", 9, default=2.5),
            DataRequirement("atom_ener", 1, atomic=True)]
    system = DataSystem(path, ["O", "H"], reqs)
    first, second = system.load_set(0), system.load_set(1)
    assert first["find_energy"] == 1.0 and second["find_energy"] == 0.0
    np.testing.assert_array_equal(second["energy"], np.zeros((3, 1)))
    assert first["find_virial"] == 0.0
    np.testing.assert_array_equal(first["virial"], np.full((2, 9), 2.5))
    assert first["atom_ener"].shape == (2, 2) and first["find_atom_ener"] == 0.0
    assert system.nframes == 5 and [s.nframes for s in system.sets] == [2, 3]


def test_nopbc_ignores_box(make_system):
    path, _ = make_system("s", [0, 1], type_map=["O", "H"], pbc=False)
    system = DataSystem(path, ["O", "H"])
    batch = system.load_set(0)
    assert system.pbc is False and batch["pbc"] is False
    np.testing.assert_array_equal(batch["box"], np.zeros((3, 9)))


def test_without_type_maps_raw_ids_are_model_ids(make_system):
    path, _ = make_system("s", [2, 0, 2])
    system = DataSystem(path)
    np.testing.assert_array_equal(system.atom_types, [2, 0, 2])
    assert system.ntypes == 3
    np.testing.assert_array_equal(system.natoms_vec, [3, 3, 1, 0, 2])


def test_flat_and_3d_files_are_accepted(make_system):
    nf, nat = 2, 3
    coord = np.random.default_rng(1).normal(size=(nf, nat, 3))
    arrays = {"set.000": {"coord": coord, "energy": np.arange(nf, dtype=float)}}
    path, _ = make_system("s", [0, 0, 0], sets=(nf,), labels=(), arrays=arrays)
    batch = DataSystem(path, requirements=[DataRequirement("energy", 1)]).load_set(0)
    np.testing.assert_array_equal(batch["coord"], coord.reshape(nf, 9))
    np.testing.assert_array_equal(batch["energy"], [[0.0], [1.0]])


def test_single_frame_flat_files(make_system):
    arrays = {"set.000": {"coord": np.arange(6.0), "box": np.eye(3).reshape(9) * 7,
                          "energy": np.array(3.0)}}
    path, _ = make_system("s", [0, 1], sets=(1,), labels=(), arrays=arrays)
    batch = DataSystem(path, requirements=[DataRequirement("energy", 1)]).load_set(0)
    assert batch["coord"].shape == (1, 6) and batch["box"].shape == (1, 9)
    assert batch["energy"][0, 0] == 3.0


def test_large_files_are_memory_mapped(make_system, monkeypatch):
    import deepmt.data.storage as storage

    monkeypatch.setattr(storage, "INMEMORY_MAX_BYTES", 0)
    path, written = make_system("s", [0, 1], labels=("force",))
    system = DataSystem(path, requirements=[DataRequirement("force", 3, atomic=True)])
    loaded = system._load_set(system.sets[0])
    assert isinstance(loaded.arrays["coord"], np.memmap)
    np.testing.assert_array_equal(system.load_set(0)["force"], written["set.000"]["force"])


def test_requirement_checks():
    with pytest.raises(ValueError):
        DataRequirement("x", 0)
    with pytest.raises(ValueError):
        DataRequirement("x", 3, type_sel=(0,))
    assert DataRequirement("x", 3, atomic=True, type_sel=[2, 0, 2]).type_sel == (0, 2)
    same = merge_requirements([DataRequirement("x", 1), DataRequirement("x", 1)])
    assert same == (DataRequirement("x", 1),)
    with pytest.raises(ValueError):
        merge_requirements([DataRequirement("x", 1), DataRequirement("x", 2)])
