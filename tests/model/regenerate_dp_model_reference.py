"""Regenerate ``tests/model/data/dp_model_reference.npz`` with DeePMD-kit 2.2.11.

Run with a Python that has deepmd-kit 2.2.11 (never imported by the tests)::

    /work/venv-dp/bin/python tests/model/regenerate_dp_model_reference.py

It builds DeePMD-kit's se_e2_a descriptor with an energy, a dipole and a
polarizability fitting on two water frames (``tests/data/water_192``),
computes DeePMD-kit's environment statistics on those frames, and stores the
inputs, the statistics, every weight (renamed to deepmt's variable names:
``heads/<head>/layer_0_type_0/matrix``, ...) and the outputs. The deepmt test
rebuilds the same model from the stored weights and must agree element for
element.
"""

import os

import numpy as np
from deepmd.descriptor import DescrptSeA
from deepmd.env import tf
from deepmd.fit import DipoleFittingSeA, EnerFitting, PolarFittingSeA

HERE = os.path.dirname(os.path.abspath(__file__))
WATER = os.path.join(HERE, "..", "data", "water_192")
OUT = os.path.join(HERE, "data", "dp_model_reference.npz")
#: deepmt configuration of the same model (stored in the npz as a string)
DESCRIPTOR = dict(rcut=6.0, rcut_smth=0.5, sel=[46, 92], neuron=[4, 8, 16], axis_neuron=4,
                  resnet_dt=True, type_one_side=False, exclude_types=[[1, 1]], seed=1)
POLAR_SHIFT = np.array([0.5, 0.0])


def load_frames():
    coord = np.load(os.path.join(WATER, "set.000", "coord.npy"))
    box = np.load(os.path.join(WATER, "set.000", "box.npy"))
    atype = np.loadtxt(os.path.join(WATER, "type.raw"), dtype=np.int32)
    order = np.argsort(atype, kind="stable")
    coord = coord.reshape(coord.shape[0], -1, 3)[:, order].reshape(coord.shape[0], -1)
    return coord, box, atype[order]


def deepmt_name(name: str) -> str:
    """DeePMD-kit variable name (suffix ``_<head>``) -> deepmt variable name."""
    for head in ("e", "d", "p"):
        suffix = "_" + head
        if name.startswith(f"fitting_attr{suffix}/"):
            return f"heads/{head}/fitting_attr/" + name.split("/", 1)[1]
        scope, var = name.split("/", 1)
        if scope.startswith(("layer_", "final_layer")) and scope.endswith(suffix):
            return f"heads/{head}/{scope[:-len(suffix)]}/{var}"
    return name


def main():
    coord, box, atype = load_frames()
    nf, nat = coord.shape[0], len(atype)
    natoms = np.array([nat, nat, *np.bincount(atype, minlength=2)], dtype=np.int32)
    mesh = np.zeros(6, dtype=np.int32)
    descrpt = DescrptSeA(**DESCRIPTOR)
    descrpt.compute_input_stats([coord], [box], [np.tile(atype, (nf, 1))], [natoms], [mesh], {})
    ph = {k: tf.placeholder(d, [None], name=k) for k, d in (
        ("coord", tf.float64), ("type", tf.int32), ("box", tf.float64), ("mesh", tf.int32))}
    t_natoms = tf.placeholder(tf.int32, [4])
    dout = descrpt.build(ph["coord"], ph["type"], t_natoms, ph["box"], ph["mesh"], {},
                         reuse=False, suffix="")
    rot = descrpt.get_rot_mat()
    extra = {"atype": ph["type"]}
    ener = EnerFitting(descrpt, neuron=[16, 16], resnet_dt=True, seed=2)
    ener.bias_atom_e = np.array([-93.5, -187.25])
    atom_e = ener.build(dout, t_natoms, extra, reuse=False, suffix="_e")
    dipole = DipoleFittingSeA(descrpt, neuron=[8, 8], sel_type=[0], seed=3).build(
        dout, rot, t_natoms, extra, reuse=False, suffix="_d")
    polar_fit = PolarFittingSeA(descrpt, neuron=[8], sel_type=[0], fit_diag=False, scale=2.0,
                                seed=4)
    polar_fit.constant_matrix = POLAR_SHIFT
    polar = polar_fit.build(dout, rot, t_natoms, extra, reuse=False, suffix="_p")
    force, virial, atom_virial = descrpt.prod_force_virial(atom_e, t_natoms)
    feed = {ph["coord"]: coord.ravel(), ph["type"]: np.tile(atype, nf), t_natoms: natoms,
            ph["box"]: box.ravel(), ph["mesh"]: mesh}
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        weights = {deepmt_name(v.op.name): sess.run(v) for v in tf.global_variables()}
        out = sess.run({"atom_energy": atom_e, "force": force, "virial": virial,
                        "atom_virial": atom_virial, "dipole": dipole, "polar": polar,
                        "descriptor": dout}, feed)
    out["atom_energy"] = out["atom_energy"].reshape(nf, nat)
    out["descriptor"] = out["descriptor"].reshape(nf, nat, -1)[:, ::16]  # every 16th atom
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    np.savez_compressed(
        OUT, coord=coord, box=box, atype=atype, davg=descrpt.davg, dstd=descrpt.dstd,
        polar_shift=POLAR_SHIFT, **{"out/" + k: v for k, v in out.items()},
        **{"var/" + k: v for k, v in weights.items()})
    print(f"wrote {OUT}: {len(weights)} variables")


if __name__ == "__main__":
    main()
