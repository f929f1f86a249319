"""Element-for-element agreement with DeePMD-kit 2.2.11 for the same weights.

The reference (``data/dp_model_reference.npz``) was produced by DeePMD-kit
2.2.11 itself with ``regenerate_dp_model_reference.py``: se_e2_a (with an
excluded type pair) + energy, dipole and polarizability fittings on two
water frames, DeePMD-kit's own environment statistics, random weights.
"""

import os

import numpy as np
import pytest

from deepmt.model import build_model

from mt_helpers import ModelRunner, make_batch

REF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data",
                   "dp_model_reference.npz")


@pytest.fixture(scope="module")
def ref():
    with np.load(REF) as data:
        return {k: data[k] for k in data.files}


def _model(ref):
    descriptor = {"type": "se_e2_a", "sel": [46, 92], "rcut": 6.0, "rcut_smth": 0.5,
                  "neuron": [4, 8, 16], "axis_neuron": 4, "resnet_dt": True,
                  "exclude_types": [[1, 1]]}
    heads = {"e": {"neuron": [16, 16]},
             "d": {"type": "dipole", "neuron": [8, 8], "sel_type": [0]},
             "p": {"type": "polar", "neuron": [8], "sel_type": [0], "fit_diag": False,
                   "scale": 2.0}}
    return build_model({"descriptor": descriptor}, heads, ["O", "H"])


def test_environment_statistics_match_deepmd(ref):
    model = _model(ref)
    model.descriptor.compute_input_stats([make_batch(ref["coord"], ref["box"], ref["atype"])])
    np.testing.assert_allclose(model.descriptor.davg, ref["davg"], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(model.descriptor.dstd, ref["dstd"], rtol=1e-12)


def test_outputs_match_deepmd_for_the_same_weights(ref):
    model = _model(ref)
    weights = {k[4:]: v for k, v in ref.items() if k.startswith("var/")}
    # DeePMD-kit bakes the polar shift into the graph; deepmt keeps it in a variable
    weights["heads/p/fitting_attr/t_constant_matrix"] = ref["polar_shift"]
    model.init_from_frozen(weights)
    run = ModelRunner(model)
    # every variable of the deepmt model came from DeePMD-kit's graph
    names = {v.op.name for v in run.graph.get_collection("variables")}
    assert names == set(model.frozen_initialized)
    coord, box, atype = ref["coord"], ref["box"], ref["atype"]
    out = run.run({**run.out["e"], "dipole": run.out["d"]["dipole"],
                   "polar": run.out["p"]["polar"],
                   "descriptor": run.graph.get_tensor_by_name("o_descriptor:0")},
                  coord, box, atype)
    out["descriptor"] = out["descriptor"][:, ::16]
    for key in ("atom_energy", "force", "virial", "atom_virial", "dipole", "polar",
                "descriptor"):
        want = ref["out/" + key]
        np.testing.assert_allclose(out[key].reshape(want.shape), want, rtol=1e-10,
                                   atol=1e-12 * np.abs(want).max(), err_msg=key)
    np.testing.assert_allclose(out["energy"], ref["out/atom_energy"].sum(axis=1), rtol=1e-13)
