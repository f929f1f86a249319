"""Element-for-element agreement with DeePMD-kit 2.2.11's own ops.

``tests/data/dp_reference/*.npz`` were produced by
``tests/data/regenerate_dp_reference.py`` with DeePMD-kit's ProdEnvMatA/R,
ProdForceSe{A,R} and ProdVirialSe{A,R} (see that script for the cases).
deepmt's ops must reproduce them exactly: the same ``nlist`` (including the
order of equally distant images) and floats to 1e-12.  The oracle is checked
against the same files, tie-aware, which validates the oracle itself.
"""

import os

import numpy as np
import pytest

from reference import env_mat_np, prod_np
from reference.compare import assert_env_equal

DP_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data",
                      "dp_reference")
CASES = ["water", "triclinic_3types", "molecule_nopbc", "virtual_atoms"]
# (case, family) pairs with a reference; DeePMD-kit's ProdEnvMatR gives
# non-finite rows for virtual centres, so virtual_atoms has no R reference
FAMILIES = [(name, kind) for name in CASES for kind in ("a", "r")
            if (name, kind) != ("virtual_atoms", "r")]
TOL = dict(rtol=1e-12, atol=1e-12)


def _load(name):
    with np.load(os.path.join(DP_DIR, f"{name}.npz")) as data:
        case = {k: data[k] for k in data.files}
    case["sel"] = [int(s) for s in case["sel"]]
    case["rcut"], case["rcut_smth"] = float(case["rcut"]), float(case["rcut_smth"])
    case["r_nlist"], case["r_rij"] = case["a_nlist"], case["a_rij"]
    return case


def _dp_outputs(case, kind):
    names = ("descrpt", "descrpt_deriv", "rij", "nlist")
    return {k: case[f"{kind}_{k}"] for k in names}


def _box(case):
    return case["box"] if bool(case["pbc"]) else None


def test_reference_files_are_small_and_truncate():
    total = sum(os.path.getsize(os.path.join(DP_DIR, f"{n}.npz")) for n in CASES)
    assert total < 500 * 1024
    water = _load("water")
    ref = env_mat_np.env_mat_a(water["coord"], water["atype"], water["box"], rcut=water["rcut"],
                               rcut_smth=water["rcut_smth"], sel=water["sel"])
    assert np.all(ref["max_nnei"] > np.array(water["sel"]))


@pytest.mark.parametrize("name,kind", FAMILIES)
def test_oracle_matches_deepmd(name, kind):
    case = _load(name)
    nf, nloc = case["coord"].shape[0], len(case["atype"])
    ref = env_mat_np.env_mat(case["coord"], case["atype"], _box(case), rcut=case["rcut"],
                             rcut_smth=case["rcut_smth"], sel=case["sel"], kind=kind,
                             davg=case[f"davg_{kind}"], dstd=case[f"dstd_{kind}"])
    dp = _dp_outputs(case, kind)
    assert_env_equal(dp, ref, sel=case["sel"], atype_local=case["atype"],
                     davg=case[f"davg_{kind}"], dstd=case[f"dstd_{kind}"], rcut=case["rcut"],
                     rcut_smth=case["rcut_smth"], kind=kind, label=f"oracle vs deepmd {name}")
    g = case[f"net_deriv_{kind}"]
    force = prod_np.prod_force(g, dp["descrpt_deriv"], dp["nlist"], nloc)
    virial, atom_virial = prod_np.prod_virial(g, dp["descrpt_deriv"], dp["rij"], dp["nlist"], nloc)
    np.testing.assert_allclose(force, case[f"{kind}_force"], **TOL)
    np.testing.assert_allclose(virial, case[f"{kind}_virial"], **TOL)
    np.testing.assert_allclose(atom_virial, case[f"{kind}_atom_virial"], **TOL)
    assert force.shape == (nf, nloc * 3)


@pytest.mark.parametrize("name,kind", FAMILIES)
def test_ops_match_deepmd(ops, name, kind):
    case = _load(name)
    nloc = len(case["atype"])
    got = ops.env_mat(case["coord"], case["atype"], _box(case), rcut=case["rcut"],
                      rcut_smth=case["rcut_smth"], sel=case["sel"], kind=kind,
                      davg=case[f"davg_{kind}"], dstd=case[f"dstd_{kind}"])
    dp = _dp_outputs(case, kind)
    for f, i in zip(*np.nonzero(got["nlist"].reshape(len(got["nlist"]), nloc, -1)
                                != dp["nlist"].reshape(len(got["nlist"]), nloc, -1))[:2]):
        raise AssertionError(f"{name}/{kind}: nlist of frame {f} atom {i}: deepmt "
                             f"{got['nlist'].reshape(-1, nloc, sum(case['sel']))[f, i].tolist()} "
                             f"!= deepmd {dp['nlist'].reshape(-1, nloc, sum(case['sel']))[f, i].tolist()}")
    for key in ("rij", "descrpt", "descrpt_deriv"):
        np.testing.assert_allclose(got[key], dp[key], **TOL, err_msg=f"{name}/{kind}: {key}")
    g = case[f"net_deriv_{kind}"]
    force = ops.prod_force(g, got["descrpt_deriv"], got["nlist"], nloc)
    virial, atom_virial = ops.prod_virial(g, got["descrpt_deriv"], got["rij"], got["nlist"], nloc)
    np.testing.assert_allclose(force, case[f"{kind}_force"], **TOL, err_msg=f"{name}/{kind}: force")
    np.testing.assert_allclose(virial, case[f"{kind}_virial"], **TOL, err_msg=f"{name}/{kind}: virial")
    np.testing.assert_allclose(atom_virial, case[f"{kind}_atom_virial"], **TOL,
                               err_msg=f"{name}/{kind}: atom_virial")
