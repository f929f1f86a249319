"""Descriptors: embedding + reduction against NumPy, statistics, config errors."""

import numpy as np
import pytest

from deepmt.descriptor import DESCRIPTORS, DescrptSeA, DescrptSeR
from deepmt.errors import ConfigError
from deepmt.utils.tf_compat import get_tf

from mt_helpers import make_batch, np_embedding, random_system

COUNTS = (3, 4)
NLOC = sum(COUNTS)
NF = 2
SEL = [3, 5]
NNEI = sum(SEL)


def _embed_vars(values, scope, tj, nlayer):
    return [(values[f"{scope}/matrix_{l}_{tj}"], values[f"{scope}/bias_{l}_{tj}"],
             values.get(f"{scope}/idt_{l}_{tj}")) for l in range(1, nlayer + 1)]


def _run_from_env(desc, env):
    """Run ``build_from_env`` on a fed env matrix; return (D, rot_mat or None, vars)."""
    tf = get_tf()
    with tf.Graph().as_default():
        ph = tf.placeholder(tf.float64, [None, desc.ndescrpt])
        natoms = tf.constant([NLOC, NLOC, *COUNTS], tf.int32)
        out = desc.build_from_env(ph, natoms)
        rot = desc.get_rot_mat() if desc.get_dim_rot_mat_1() else None
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            d, r = sess.run([out, rot if rot is not None else out], {ph: env})
            values = {v.op.name: sess.run(v) for v in tf.global_variables()}
    return d, (r if rot is not None else None), values


def _np_t_matrix(desc, env, values, ncomp):
    """Per-atom sum over neighbour blocks of R_block^T G_block (NumPy)."""
    types = np.concatenate([np.full(n, t) for t, n in enumerate(COUNTS)])
    env = env.reshape(NF, NLOC, NNEI, ncomp)
    off = np.cumsum([0] + SEL)
    out = np.zeros((NF, NLOC, ncomp, desc.neuron[-1]))
    for f in range(NF):
        for i in range(NLOC):
            ti = types[i]
            for tj in range(len(SEL)):
                if (ti, tj) in desc.exclude:
                    continue
                scope = "filter_type_all" if desc.type_one_side else f"filter_type_{ti}"
                rows = env[f, i, off[tj]:off[tj + 1]]
                g = np_embedding(rows[:, :1], _embed_vars(values, scope, tj, len(desc.neuron)))
                # se_e2_a: R^T G; se_e2_r: plain sum of G over the slots
                out[f, i] += rows.T @ g if ncomp == 4 else g.sum(axis=0)
    return out.reshape(NF * NLOC, ncomp, -1)


@pytest.mark.parametrize("type_one_side", [False, True])
@pytest.mark.parametrize("exclude", [[], [[0, 1]]])
def test_se_a_from_env_matches_numpy(rng, type_one_side, exclude):
    desc = DescrptSeA(2, sel=SEL, rcut=4.0, neuron=[2, 4, 8], axis_neuron=3, seed=1,
                      resnet_dt=True, type_one_side=type_one_side, exclude_types=exclude)
    env = rng.normal(size=(NF * NLOC, NNEI * 4))
    d, rot, values = _run_from_env(desc, env)
    nets = {n.rsplit("/", 1)[0] for n in values}
    assert nets == ({"filter_type_all"} if type_one_side else {"filter_type_0", "filter_type_1"})
    if exclude and not type_one_side:  # excluded pair: no net at all
        assert "filter_type_0/matrix_1_1" not in values
        assert "filter_type_1/matrix_1_0" not in values
    t_mat = _np_t_matrix(desc, env, values, 4) / NNEI
    ref = np.einsum("ncm,nck->nmk", t_mat, t_mat[:, :, :3]).reshape(NF * NLOC, -1)
    np.testing.assert_allclose(d, ref, rtol=1e-12, atol=1e-14)
    ref_rot = np.transpose(t_mat[:, 1:4, :], (0, 2, 1)).reshape(NF * NLOC, -1)
    np.testing.assert_allclose(rot, ref_rot, rtol=1e-12, atol=1e-14)


def test_se_r_from_env_matches_numpy(rng):
    desc = DescrptSeR(2, sel=SEL, rcut=4.0, neuron=[2, 4], seed=2, exclude_types=[[1, 1]])
    env = rng.normal(size=(NF * NLOC, NNEI))
    d, rot, values = _run_from_env(desc, env)
    assert rot is None and desc.get_dim_rot_mat_1() == 0
    ref = _np_t_matrix(desc, env, values, 1)[:, 0, :] / (5.0 * NNEI)
    np.testing.assert_allclose(d, ref, rtol=1e-12, atol=1e-14)


def test_fully_excluded_centre_type_has_zero_descriptor(rng):
    desc = DescrptSeA(2, sel=SEL, rcut=4.0, neuron=[2, 4], axis_neuron=2,
                      exclude_types=[[0, 0], [0, 1]])
    d, rot, _ = _run_from_env(desc, rng.normal(size=(NF * NLOC, NNEI * 4)))
    per_atom = d.reshape(NF, NLOC, -1)
    assert np.all(per_atom[:, :COUNTS[0]] == 0.0)
    assert np.all(np.abs(per_atom[:, COUNTS[0]:]) > 0.0)
    assert np.all(rot.reshape(NF, NLOC, -1)[:, :COUNTS[0]] == 0.0)


@pytest.mark.parametrize("config, match", [
    ({"sel": "auto"}, "sel"),
    ({"sel": [4]}, "sel"),
    ({"sel": [4, -1]}, "sel"),
    ({"rcut_smth": 5.0}, "rcut_smth"),
    ({"axis_neuron": 9}, "axis_neuron"),
    ({"exclude_types": [[0, 2]]}, "exclude_types"),
    ({"neuron": [4, 0]}, "neuron"),
    ({"rcutt": 4.0}, "rcutt"),
])
def test_descriptor_config_errors_name_the_key(config, match):
    base = {"sel": [4, 4], "rcut": 4.0, "neuron": [2, 8]}
    base.update(config)
    with pytest.raises(ConfigError, match=f"model/descriptor.*{match}"):
        DescrptSeA(2, **base)


def test_registry_names_and_aliases():
    assert DESCRIPTORS.get("se_a") is DescrptSeA
    assert DESCRIPTORS.get("se_r") is DescrptSeR
    assert DescrptSeA(2, sel=[4, 4], n_axis_neuron=2, neuron=[4]).axis_neuron == 2


# --- statistics (need the compiled op) ---------------------------------------
def _numpy_stats(descs, batches, ntypes, ncomp, rcut, exclude=()):
    """davg/dstd per centre type from raw op rows gathered over all batches."""
    import deepmt.op as op

    sel = descs.sel
    off = np.cumsum([0] + sel)
    per_type = {t: [] for t in range(ntypes)}
    for b in batches:
        func = op.env_mat_a if ncomp == 4 else op.env_mat_r
        raw = func(b["coord"], b["type"], b["box"], rcut=rcut, rcut_smth=descs.rcut_smth,
                   sel=sel)["descrpt"]
        nf = b["coord"].shape[0]
        raw = np.array(raw).reshape(nf, -1, sum(sel), ncomp)
        for f in range(nf):
            for i, ti in enumerate(b["type"][f]):
                rows = raw[f, i].copy()
                for a, c in exclude:
                    if a == ti:
                        rows[off[c]:off[c + 1]] = 0.0
                per_type[ti].append(rows)
    davg = np.zeros((ntypes, sum(sel), ncomp))
    dstd = np.ones((ntypes, sum(sel), ncomp))
    for t, rows in per_type.items():
        if not rows:
            dstd[t] = 1.0 / rcut
            continue
        rows = np.array(rows)
        davg[t, :, 0] = rows[..., 0].mean()
        dstd[t, :, 0] = max(rows[..., 0].std(), 1e-2)
        if ncomp == 4:
            dstd[t, :, 1:] = max(rows[..., 1:].std(), 1e-2)
    return davg.reshape(ntypes, -1), dstd.reshape(ntypes, -1)


@pytest.mark.parametrize("cls, ncomp", [(DescrptSeA, 4), (DescrptSeR, 1)])
@pytest.mark.parametrize("set_davg_zero", [False, True])
def test_davg_dstd_from_raw_op_rows(rng, cls, ncomp, set_davg_zero):
    # three model types, type 2 absent from every frame -> dstd = 1/rcut
    rcut = 3.5
    kwargs = dict(sel=[8, 12, 4], rcut=rcut, rcut_smth=0.8, neuron=[4],
                  set_davg_zero=set_davg_zero, exclude_types=[[0, 1]])
    desc = cls(3, **kwargs)
    batches = []
    for nframes, counts in ((2, (3, 6)), (1, (5, 2))):
        coord, box, atype = random_system(rng, counts, box_len=4.5, nframes=nframes)
        batches.append(make_batch(coord, box, atype))
    desc.compute_input_stats(batches)
    davg, dstd = _numpy_stats(desc, batches, 3, ncomp, rcut, exclude=[(0, 1), (1, 0)])
    if set_davg_zero:
        davg[:] = 0.0
    assert desc.davg.shape == (3, sum(kwargs["sel"]) * ncomp)
    np.testing.assert_allclose(desc.davg, davg, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(desc.dstd, dstd, rtol=1e-10)
    assert np.all(desc.dstd[2] == 1.0 / rcut)
    assert np.any(desc.davg[0] != 0.0) != set_davg_zero
