"""Regenerate ``tests/data/dp_reference/*.npz`` with DeePMD-kit 2.2.11's own ops.

Run with a Python that has ``deepmd-kit==2.2.11`` (never the deepmt venv)::

    python3 -m venv /work/venv-dp
    /work/venv-dp/bin/pip install deepmd-kit==2.2.11 tensorflow-cpu==2.16.2 \
        tf-keras==2.16.0 "numpy<2"
    /work/venv-dp/bin/python tests/data/regenerate_dp_reference.py

The tests only read the ``.npz`` files; they never import deepmd.  Each file
holds one case: the inputs (``coord [nf, nat*3]``, ``atype [nat]``,
``box [nf, 9]`` or zeros with ``pbc = False``, ``rcut``, ``rcut_smth``,
``sel``, random ``davg_*``/``dstd_*`` and ``net_deriv_*``) and the outputs of
ProdEnvMatA + ProdForceSeA + ProdVirialSeA (prefix ``a_``) and ProdEnvMatR +
ProdForceSeR + ProdVirialSeR (prefix ``r_``), all float64.  ``r_nlist`` and
``r_rij`` are not stored: DeePMD-kit builds them with the same machinery as
the A family and this script checks that they are identical.

Cases:

* ``water``: the first frame of ``tests/data/water_192`` (192 atoms, cubic
  12.44 Å cell), rcut 3.5 with sel [2, 4], small enough that many atoms
  have more neighbours than ``sel`` (truncation);
* ``triclinic_3types``: 7 atoms of 3 types in unsorted order in a rotated
  triclinic cell whose faces are closer than rcut = 4 (images of every atom,
  the centre included, appear several times), two frames;
* ``molecule_nopbc``: two frames of the C4H3O1 molecule of the DeePMD-kit
  examples (8 atoms, types C H O in the order 1 1 1 0 0 0 0 2), no PBC,
  rcut 6 so that some pairs fall outside the cut-off, sel [2, 3, 2]
  (C neighbours truncated to 2);
* ``virtual_atoms``: 7 atoms in a periodic triclinic cell, two of them
  virtual (type -1): never neighbours, zero rows as centres.  A family only:
  DeePMD-kit's ProdEnvMatR leaves the rows of a virtual centre uninitialised
  (inf / nan), which is nothing to reproduce.
"""

from __future__ import annotations

import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, "dp_reference")

MOLECULE = np.array([
    [[11.1888, 12.9512, 12.8643], [13.3089, 7.99917, 18.22834], [16.3133, 8.04841, 11.0737],
     [12.7997, 8.65265, 13.7978], [12.0334, 9.0558, 13.4669], [11.4645, 12.269, 11.5124],
     [13.2239, 7.38771, 19.16785], [11.9265, 12.6261, 12.5055]],
    [[11.1066, 12.9024, 12.8602], [13.4679, 7.8884, 18.2142], [16.3652, 8.1664, 11.2521],
     [12.8031, 8.626, 13.7698], [11.9807, 9.03841, 13.4543], [11.5068, 12.2522, 11.5271],
     [13.1834, 7.39285, 19.16167], [11.959, 12.6241, 12.4304]],
])


def _water_case():
    src = os.path.join(HERE, "water_192")
    coord = np.load(os.path.join(src, "set.000", "coord.npy"))[:1].astype(np.float64)
    box = np.load(os.path.join(src, "set.000", "box.npy"))[:1].astype(np.float64)
    atype = np.loadtxt(os.path.join(src, "type.raw"), dtype=np.int32).reshape(-1)
    return dict(coord=coord, atype=atype, box=box, pbc=True, rcut=3.5, rcut_smth=1.0, sel=[2, 4])


def _rotation(rng):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def _triclinic_case(rng):
    atype = np.array([2, 0, 1, 0, 2, 1, 1], dtype=np.int32)
    coords, boxes = [], []
    for _ in range(2):
        box = np.diag([3.0, 3.3, 3.6]) + 1.2 * np.tril(rng.uniform(-1, 1, size=(3, 3)), k=-1)
        box = box @ _rotation(rng).T
        while True:
            frac = rng.uniform(-0.4, 1.4, size=(7, 3))
            pos = frac @ box
            diff = pos[:, None] - pos[None]
            dist = np.linalg.norm(diff, axis=-1) + np.eye(7) * 9.0
            if dist.min() > 0.9:
                break
        coords.append(pos.reshape(-1))
        boxes.append(box.reshape(-1))
    return dict(coord=np.array(coords), atype=atype, box=np.array(boxes), pbc=True,
                rcut=4.0, rcut_smth=2.0, sel=[6, 8, 20])


def _molecule_case():
    atype = np.array([1, 1, 1, 0, 0, 0, 0, 2], dtype=np.int32)
    coord = MOLECULE.reshape(2, -1).astype(np.float64)
    return dict(coord=coord, atype=atype, box=np.zeros((2, 9)), pbc=False,
                rcut=6.0, rcut_smth=0.5, sel=[2, 3, 2])


def _virtual_case(rng):
    atype = np.array([0, -1, 1, 0, 1, -1, 1], dtype=np.int32)
    box = np.diag([5.0, 5.5, 6.0]) + 0.8 * np.tril(rng.uniform(-1, 1, size=(3, 3)), k=-1)
    while True:
        pos = rng.uniform(0.0, 1.0, size=(7, 3)) @ box
        dist = np.linalg.norm(pos[:, None] - pos[None], axis=-1) + np.eye(7) * 9.0
        if dist.min() > 1.0:
            break
    return dict(coord=pos.reshape(1, -1), atype=atype, box=box.reshape(1, 9), pbc=True,
                rcut=3.5, rcut_smth=1.0, sel=[4, 5])


def _run_family(tf, op_module, case, kind, rng):
    """Run DeePMD-kit's env-mat, force and virial ops of one family."""
    sel = case["sel"]
    ntypes, nnei = len(sel), int(sum(sel))
    ncomp = 4 if kind == "a" else 1
    nf, nat = case["coord"].shape[0], len(case["atype"])
    davg = rng.normal(0.0, 0.3, size=(ntypes, nnei * ncomp))
    dstd = rng.uniform(0.2, 1.5, size=(ntypes, nnei * ncomp))
    net_deriv = rng.normal(size=(nf, nat * nnei * ncomp))
    counts = np.bincount(case["atype"][case["atype"] >= 0], minlength=ntypes)
    natoms = np.concatenate([[nat, nat], counts]).astype(np.int32)
    mesh = np.zeros(6 if case["pbc"] else 0, dtype=np.int32)
    atype = np.tile(case["atype"], (nf, 1))
    with tf.Graph().as_default(), tf.Session() as sess:
        args = (tf.constant(case["coord"]), tf.constant(atype), tf.constant(natoms),
                tf.constant(case["box"]), tf.constant(mesh), tf.constant(davg), tf.constant(dstd))
        if kind == "a":
            desc, deriv, rij, nlist = op_module.prod_env_mat_a(
                *args, rcut_a=-1.0, rcut_r=case["rcut"], rcut_r_smth=case["rcut_smth"],
                sel_a=sel, sel_r=[0] * ntypes)
            force = op_module.prod_force_se_a(net_deriv, deriv, nlist, natoms,
                                              n_a_sel=nnei, n_r_sel=0)
            virial, atom_virial = op_module.prod_virial_se_a(net_deriv, deriv, rij, nlist, natoms,
                                                             n_a_sel=nnei, n_r_sel=0)
        else:
            desc, deriv, rij, nlist = op_module.prod_env_mat_r(
                *args, rcut=case["rcut"], rcut_smth=case["rcut_smth"], sel=sel)
            force = op_module.prod_force_se_r(net_deriv, deriv, nlist, natoms)
            virial, atom_virial = op_module.prod_virial_se_r(net_deriv, deriv, rij, nlist, natoms)
        names = ("descrpt", "descrpt_deriv", "rij", "nlist", "force", "virial", "atom_virial")
        values = sess.run([desc, deriv, rij, nlist, force, virial, atom_virial])
    out = {f"{kind}_{k}": v for k, v in zip(names, values)}
    out.update({f"davg_{kind}": davg, f"dstd_{kind}": dstd, f"net_deriv_{kind}": net_deriv})
    return out


def _save(name, case, tf, op_module, rng):
    import deepmd

    data = {k: np.asarray(v) for k, v in case.items()}
    data.update(_run_family(tf, op_module, case, "a", rng))
    if np.all(case["atype"] >= 0):
        rdata = _run_family(tf, op_module, case, "r", rng)
        for key in ("nlist", "rij"):
            if not np.array_equal(rdata.pop(f"r_{key}"), data[f"a_{key}"]):
                raise RuntimeError(f"{name}: ProdEnvMatR {key} differs from ProdEnvMatA's")
        data.update(rdata)
    data["versions"] = np.array(f"deepmd-kit {deepmd.__version__}, tensorflow {tf.__version__}")
    path = os.path.join(OUT_DIR, f"{name}.npz")
    np.savez_compressed(path, **data)
    dropped = np.asarray(data["a_nlist"]).reshape(-1)
    print(f"{path}: {os.path.getsize(path) / 1024:.0f} KiB, "
          f"{np.sum(dropped < 0)} empty slots of {dropped.size}")


def main():
    from deepmd.env import op_module, tf

    os.makedirs(OUT_DIR, exist_ok=True)
    rng = np.random.default_rng(2211)
    _save("water", _water_case(), tf, op_module, rng)
    _save("triclinic_3types", _triclinic_case(rng), tf, op_module, rng)
    _save("molecule_nopbc", _molecule_case(), tf, op_module, rng)
    _save("virtual_atoms", _virtual_case(rng), tf, op_module, rng)


if __name__ == "__main__":
    main()
