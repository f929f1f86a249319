"""Builders of tiny data systems in temporary folders."""

import os

import numpy as np
import pytest

#: per-frame size of generated labels, as a function of the atom count
LABEL_SIZES = {
    "energy": lambda nat: 1,
    "force": lambda nat: 3 * nat,
    "virial": lambda nat: 9,
    "atom_ener": lambda nat: nat,
    "atom_pref": lambda nat: nat,
    "dipole": lambda nat: 3,
    "polarizability": lambda nat: 9,
    "fparam": lambda nat: 2,
    "aparam": lambda nat: 2 * nat,
}


def write_npy_system(path, types, type_map=None, sets=(3,), pbc=True, labels=("energy",),
                     seed=0, box_size=10.0, arrays=None):
    """Write a deepmd/npy system; returns ``{set_name: {key: array}}`` as written.

    ``coord[f, 0]`` is ``100 * set + frame`` so tests can tell frames apart;
    ``arrays`` (``{set_name: {key: array}}``) adds or replaces files.
    """
    rng = np.random.default_rng(seed)
    os.makedirs(path, exist_ok=True)
    nat = len(types)
    np.savetxt(os.path.join(path, "type.raw"), np.asarray(types, dtype=int), fmt="%d")
    if type_map is not None:
        with open(os.path.join(path, "type_map.raw"), "w") as handle:
            handle.write("\n".join(type_map) + "\n")
    if not pbc:
        open(os.path.join(path, "nopbc"), "w").close()
    written = {}
    for k, nf in enumerate(sets):
        name = f"set.{k:03d}"
        data = {"coord": rng.uniform(0, box_size, (nf, nat * 3)),
                "box": np.tile(np.diag([box_size] * 3).reshape(9), (nf, 1))}
        data["coord"][:, 0] = 100 * k + np.arange(nf)
        for key in labels:
            data[key] = rng.normal(size=(nf, LABEL_SIZES[key](nat)))
        data.update((arrays or {}).get(name, {}))
        os.makedirs(os.path.join(path, name), exist_ok=True)
        for key, value in data.items():
            np.save(os.path.join(path, name, key + ".npy"), value)
        written[name] = data
    return written


def npy_to_raw(src, dst):
    """Copy a one-set npy system into the deepmd/raw layout."""
    os.makedirs(dst, exist_ok=True)
    for name in ("type.raw", "type_map.raw", "nopbc"):
        if os.path.exists(os.path.join(src, name)):
            with open(os.path.join(src, name)) as fin, open(os.path.join(dst, name), "w") as fout:
                fout.write(fin.read())
    set_dir = os.path.join(src, "set.000")
    for file in os.listdir(set_dir):
        array = np.load(os.path.join(set_dir, file))
        np.savetxt(os.path.join(dst, file[:-4] + ".raw"), array.reshape(array.shape[0], -1))


def npy_to_h5(src, file, group):
    """Copy an npy system into ``file`` under ``group`` (the dpdata layout)."""
    import h5py

    with h5py.File(file, "a") as handle:
        g = handle.create_group(group)
        g.create_dataset("type.raw", data=np.loadtxt(os.path.join(src, "type.raw"), dtype=int,
                                                     ndmin=1))
        if os.path.exists(os.path.join(src, "type_map.raw")):
            with open(os.path.join(src, "type_map.raw")) as fin:
                g.create_dataset("type_map.raw", data=np.array(fin.read().split(), dtype="S"))
        if os.path.exists(os.path.join(src, "nopbc")):
            g.create_dataset("nopbc", data=True)
        for set_name in sorted(os.listdir(src)):
            if set_name.startswith("set."):
                sg = g.create_group(set_name)
                for file_name in os.listdir(os.path.join(src, set_name)):
                    sg.create_dataset(file_name,
                                      data=np.load(os.path.join(src, set_name, file_name)))


@pytest.fixture
def make_system(tmp_path):
    """``make_system(name, types, **kw)`` -> ``(path, written)`` under tmp_path."""

    def make(name, types, **kwargs):
        path = str(tmp_path / name)
        return path, write_npy_system(path, types, **kwargs)

    return make


@pytest.fixture
def builders():
    """The system writers of this file, reachable whatever pytest's import mode."""
    from types import SimpleNamespace

    return SimpleNamespace(write_npy_system=write_npy_system, npy_to_raw=npy_to_raw,
                           npy_to_h5=npy_to_h5)
