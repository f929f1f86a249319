"""raw and HDF5 layouts read like npy; systems discovery."""

import os

import numpy as np
import pytest

from deepmt.data import DataRequirement, DataSystem, MultiSystemData, expand_systems
from deepmt.errors import DataError

REQS = [DataRequirement("energy", 1), DataRequirement("force", 3, atomic=True),
        DataRequirement("virial", 9)]


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


@pytest.fixture
def npy_system(tmp_path, builders):
    path = str(tmp_path / "npy")
    builders.write_npy_system(path, [1, 0, 1, 0], type_map=["H", "O"], sets=(4,),
                     labels=("energy", "force"))
    return path


def test_raw_layout_equals_npy(npy_system, tmp_path, builders):
    raw = str(tmp_path / "raw")
    builders.npy_to_raw(npy_system, raw)
    assert not os.path.exists(os.path.join(raw, "set.000"))
    a = DataSystem(npy_system, ["O", "H"], REQS)
    b = DataSystem(raw, ["O", "H"], REQS)
    assert b.storage.kind == "raw" and b.nframes == 4
    _assert_same(a.load_set(0), b.load_set(0))


def test_h5_layout_equals_npy(npy_system, tmp_path, builders):
    file = str(tmp_path / "data.h5")
    builders.write_npy_system(str(tmp_path / "two"), [0, 0, 1], type_map=["O", "H"], sets=(2, 3))
    builders.npy_to_h5(npy_system, file, "/water/a")
    builders.npy_to_h5(str(tmp_path / "two"), file, "/water/b")
    a = DataSystem(npy_system, ["O", "H"], REQS)
    b = DataSystem(file + "#/water/a", ["O", "H"], REQS)
    assert b.storage.kind == "h5"
    _assert_same(a.load_set(0), b.load_set(0))
    two = DataSystem(file + "#/water/b", ["O", "H"])
    assert [s.nframes for s in two.sets] == [2, 3]
    # a bare file, or a parent group, stands for every system inside
    assert expand_systems(file) == [file + "#/water/a", file + "#/water/b"]
    assert expand_systems([file + "#/water"]) == [file + "#/water/a", file + "#/water/b"]
    with pytest.raises(DataError, match="no group"):
        DataSystem(file + "#/nothing")


def test_h5_nopbc_and_sampling(tmp_path, builders):
    src = str(tmp_path / "s")
    builders.write_npy_system(src, [0, 1], type_map=["O", "H"], pbc=False, sets=(3,))
    file = str(tmp_path / "d.hdf5")
    builders.npy_to_h5(src, file, "/sys")
    data = MultiSystemData(file, 2, ["O", "H"], rng=0)
    assert data.nsystems == 1 and data.systems[0].pbc is False
    assert data.get_batch()["coord"].shape == (2, 6)


def test_recursive_search_is_sorted(tmp_path, builders):
    for name in ("b/x", "a", "b/a", "c/deep/er"):
        builders.write_npy_system(str(tmp_path / "root" / name), [0])
    os.makedirs(tmp_path / "root" / "empty")
    found = expand_systems(str(tmp_path / "root"))
    rel = [os.path.relpath(p, tmp_path / "root") for p in found]
    assert rel == ["a", "b/a", "b/x", "c/deep/er"]
    # a list is taken as given
    listed = [str(tmp_path / "root" / "b" / "x"), str(tmp_path / "root" / "a")]
    assert expand_systems(listed) == listed


def test_root_without_systems(tmp_path):
    os.makedirs(tmp_path / "nothing" / "here")
    with pytest.raises(DataError, match="no data system found"):
        expand_systems(str(tmp_path / "nothing"))
