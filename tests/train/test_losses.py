"""Loss values on fixed batches against a NumPy recomputation."""

import math

import numpy as np
import pytest

from deepmt.errors import ConfigError
from deepmt.loss import LOSSES, EnerLoss, TensorLoss, make_loss

NF, NLOC = 2, 5
NATOMS = np.array([NLOC, NLOC, 2, 3], dtype=np.int32)  # 2 atoms of type 0, 3 of type 1


def _run(loss, predictions, labels, lr=1e-3):
    """Build ``loss`` on placeholders, feed arrays, return (loss, metrics)."""
    from deepmt.utils.tf_compat import get_tf

    tf = get_tf()
    graph = tf.Graph()
    with graph.as_default():
        t_lr = tf.placeholder(tf.float64, [])
        t_natoms = tf.placeholder(tf.int32, [None])
        t_pred = {k: tf.placeholder(tf.float64, v.shape) for k, v in predictions.items()}
        t_lab = {k: tf.placeholder(tf.float64, np.shape(v)) for k, v in labels.items()}
        value, metrics = loss.build(t_lr, t_natoms, t_pred, t_lab)
        feed = {t_lr: lr, t_natoms: NATOMS}
        feed.update({t_pred[k]: v for k, v in predictions.items()})
        feed.update({t_lab[k]: v for k, v in labels.items()})
        with tf.Session(graph=graph) as sess:
            return sess.run([value, metrics], feed)


def _ener_arrays(seed=0):
    rng = np.random.default_rng(seed)
    pred = {"energy": rng.normal(size=NF), "force": rng.normal(size=(NF, NLOC * 3)),
            "virial": rng.normal(size=(NF, 9)), "atom_energy": rng.normal(size=(NF, NLOC))}
    lab = {"energy": rng.normal(size=NF), "force": rng.normal(size=NF * NLOC * 3),
           "virial": rng.normal(size=NF * 9), "atom_ener": rng.normal(size=NF * NLOC),
           "atom_pref": np.repeat(rng.uniform(0.5, 2.0, size=NF * NLOC), 3)}
    for key in ("energy", "force", "virial", "atom_ener", "atom_pref"):
        lab[f"find_{key}"] = 1.0
    return pred, lab


PREFS = dict(start_pref_e=0.5, limit_pref_e=2.0, start_pref_f=100.0, limit_pref_f=1.0,
             start_pref_v=0.3, limit_pref_v=0.1, start_pref_ae=0.7, limit_pref_ae=0.2,
             start_pref_pf=4.0, limit_pref_pf=1.5)


def _numpy_ener(pred, lab, lr, start_lr, prefs, relative_f=None):
    """Independent NumPy evaluation of the ener loss and its metrics."""
    n = NLOC
    ratio = lr / start_lr

    def pref(term):
        start, limit = prefs[f"start_pref_{term}"], prefs[f"limit_pref_{term}"]
        return limit + (start - limit) * ratio

    de = pred["energy"] - lab["energy"]
    df = (pred["force"].reshape(-1, 3) - lab["force"].reshape(-1, 3))
    if relative_f is not None:
        df = df / (np.linalg.norm(lab["force"].reshape(-1, 3), axis=1, keepdims=True) + relative_f)
    df = df.ravel()
    dv = pred["virial"].ravel() - lab["virial"]
    dae = pred["atom_energy"].ravel() - lab["atom_ener"]
    mse = {"e": np.mean(de ** 2), "f": np.mean(df ** 2), "v": np.mean(dv ** 2),
           "ae": np.mean(dae ** 2), "pf": np.mean(lab["atom_pref"] * df ** 2)}
    flags = {"e": "energy", "f": "force", "v": "virial", "ae": "atom_ener", "pf": "atom_pref"}
    total = 0.0
    for term, value in mse.items():
        scale = 1.0 / n if term in ("e", "v") else 1.0
        total += lab[f"find_{flags[term]}"] * pref(term) * scale * value
    metrics = {"rmse": math.sqrt(total), "rmse_e": math.sqrt(mse["e"]) / n,
               "rmse_ae": math.sqrt(mse["ae"]), "rmse_f": math.sqrt(mse["f"]),
               "rmse_v": math.sqrt(mse["v"]) / n, "rmse_pf": math.sqrt(mse["pf"])}
    return total, metrics


@pytest.mark.parametrize("lr", [1e-3, 2.5e-4, 0.0])
def test_ener_loss_matches_numpy(lr):
    pred, lab = _ener_arrays()
    loss = EnerLoss(start_lr=1e-3, **PREFS)
    value, metrics = _run(loss, pred, lab, lr=lr)
    want, want_metrics = _numpy_ener(pred, lab, lr, 1e-3, PREFS)
    assert value == pytest.approx(want, rel=1e-12)
    assert list(metrics) == ["rmse", "rmse_e", "rmse_ae", "rmse_f", "rmse_v", "rmse_pf"]
    for name, got in metrics.items():
        assert got == pytest.approx(want_metrics[name], rel=1e-12), name


def test_energy_and_virial_divided_by_n_once():
    pred, lab = _ener_arrays(1)
    prefs = dict(start_pref_e=1.0, limit_pref_e=1.0, start_pref_f=0.0, limit_pref_f=0.0)
    value, metrics = _run(EnerLoss(**prefs), pred, lab)
    mse_e = np.mean((pred["energy"] - lab["energy"]) ** 2)
    assert value == pytest.approx(mse_e / NLOC, rel=1e-12)  # not / NLOC**2
    assert metrics["rmse_e"] == pytest.approx(math.sqrt(mse_e) / NLOC, rel=1e-12)
    prefs = dict(start_pref_e=0.0, limit_pref_e=0.0, start_pref_f=0.0, limit_pref_f=0.0,
                 start_pref_v=1.0, limit_pref_v=1.0)
    value, _ = _run(EnerLoss(**prefs), pred, lab)
    assert value == pytest.approx(np.mean((pred["virial"].ravel() - lab["virial"]) ** 2) / NLOC)


def test_find_zero_switches_term_off_and_metric_is_nan():
    pred, lab = _ener_arrays(2)
    loss = EnerLoss(start_lr=1e-3, **PREFS)
    lab["find_energy"] = 0.0
    lab["find_virial"] = 0.0
    value, metrics = _run(loss, pred, lab)
    want, _ = _numpy_ener(pred, lab, 1e-3, 1e-3, PREFS)
    assert value == pytest.approx(want, rel=1e-12)
    # the energy term is really gone: changing the energy label changes nothing
    lab2 = dict(lab, energy=lab["energy"] + 100.0)
    assert _run(loss, pred, lab2)[0] == pytest.approx(value, rel=1e-14)
    shown = loss.finalize(metrics, lab)
    assert math.isnan(shown["rmse_e"]) and math.isnan(shown["rmse_v"])
    assert not math.isnan(shown["rmse_f"]) and not math.isnan(shown["rmse"])


def test_only_active_terms_are_metrics():
    loss = EnerLoss()
    assert loss.metric_names() == ["rmse", "rmse_e", "rmse_f"]
    loss = EnerLoss(start_pref_e=0, limit_pref_e=0, start_pref_v=0, limit_pref_v=1)
    assert loss.metric_names() == ["rmse", "rmse_f", "rmse_v"]


def test_relative_force():
    pred, lab = _ener_arrays(3)
    prefs = dict(PREFS)
    loss = EnerLoss(start_lr=1e-3, relative_f=0.5, **prefs)
    value, metrics = _run(loss, pred, lab)
    want, want_metrics = _numpy_ener(pred, lab, 1e-3, 1e-3, prefs, relative_f=0.5)
    assert value == pytest.approx(want, rel=1e-12)
    assert metrics["rmse_f"] == pytest.approx(want_metrics["rmse_f"], rel=1e-12)


def test_atom_ener_coeff_weights_atomic_energies():
    pred, lab = _ener_arrays(4)
    coeff = np.random.default_rng(5).uniform(0.0, 2.0, size=NF * NLOC)
    lab["atom_ener_coeff"] = coeff
    lab["find_atom_ener_coeff"] = 1.0
    loss = EnerLoss(enable_atom_ener_coeff=True, start_pref_e=1, limit_pref_e=1,
                    start_pref_f=0, limit_pref_f=0)
    value, _ = _run(loss, pred, lab)
    energy = (pred["atom_energy"] * coeff.reshape(NF, NLOC)).sum(axis=1)
    assert value == pytest.approx(np.mean((energy - lab["energy"]) ** 2) / NLOC, rel=1e-12)


def test_generalized_force():
    pred, lab = _ener_arrays(6)
    ngen = 2
    drdq = np.random.default_rng(7).normal(size=(NF, NLOC * 3 * ngen))
    lab["drdq"], lab["find_drdq"] = drdq.ravel(), 1.0
    loss = EnerLoss(start_pref_e=0, limit_pref_e=0, start_pref_f=0, limit_pref_f=0,
                    start_pref_gf=2.0, limit_pref_gf=2.0, numb_generalized_coord=ngen)
    value, metrics = _run(loss, pred, lab)
    dforce = lab["force"].reshape(NF, -1) - pred["force"]
    gen = np.einsum("bij,bi->bj", drdq.reshape(NF, NLOC * 3, ngen), dforce)
    assert value == pytest.approx(2.0 * np.mean(gen ** 2), rel=1e-12)
    assert metrics["rmse_gf"] == pytest.approx(math.sqrt(np.mean(gen ** 2)), rel=1e-12)
    with pytest.raises(ConfigError, match="numb_generalized_coord"):
        EnerLoss(start_pref_gf=1.0)


def _tensor_arrays(size, nsel, seed=0):
    rng = np.random.default_rng(seed)
    atomic = rng.normal(size=(NF, nsel * size))
    pred = {"atomic": atomic, "global": atomic.reshape(NF, nsel, size).sum(axis=1)}
    lab = {"atomic": rng.normal(size=NF * nsel * size), "global": rng.normal(size=NF * size)}
    return pred, lab


@pytest.mark.parametrize("kind, label, size", [("dipole", "dipole", 3),
                                               ("polar", "polarizability", 9)])
def test_tensor_loss_matches_numpy(kind, label, size):
    nsel = NATOMS[2]  # sel_type [0]
    pred, lab = _tensor_arrays(size, nsel)
    names = {"dipole": ("dipole", "global_dipole"), "polar": ("polar", "global_polar")}[kind]
    predictions = {names[0]: pred["atomic"], names[1]: pred["global"]}
    labels = {f"atomic_{label}": lab["atomic"], label: lab["global"],
              f"find_atomic_{label}": 1.0, f"find_{label}": 1.0}
    loss = TensorLoss(kind, sel_type=[0], pref=0.7, pref_atomic=1.3)
    value, metrics = _run(loss, predictions, labels)
    local = np.mean((pred["atomic"].ravel() - lab["atomic"]) ** 2)
    glob = np.mean((pred["global"].ravel() - lab["global"]) ** 2)
    want = 1.3 * local + 0.7 * glob / nsel  # global term divided by N_sel once
    assert value == pytest.approx(want, rel=1e-12)
    assert metrics["rmse"] == pytest.approx(math.sqrt(want), rel=1e-12)
    assert metrics["rmse_lc"] == pytest.approx(math.sqrt(local), rel=1e-12)
    assert metrics["rmse_gl"] == pytest.approx(math.sqrt(glob) / nsel, rel=1e-12)
    assert loss.batch_weight(NATOMS) == nsel
    # a system with global labels only trains only the global term
    labels[f"find_atomic_{label}"] = 0.0
    value, metrics = _run(loss, predictions, labels)
    assert value == pytest.approx(0.7 * glob / nsel, rel=1e-12)
    assert math.isnan(loss.finalize(metrics, labels)["rmse_lc"])


def test_tensor_global_from_atomic_sum_when_no_global_output():
    nsel = int(NATOMS[2] + NATOMS[3])  # sel_type [0, 1]
    pred, lab = _tensor_arrays(3, nsel, seed=3)
    loss = TensorLoss("dipole", sel_type=[0, 1], pref=1.0, pref_atomic=0.0)
    labels = {"dipole": lab["global"], "find_dipole": 1.0}
    value, metrics = _run(loss, {"dipole": pred["atomic"]}, labels)
    glob = np.mean((pred["global"].ravel() - lab["global"]) ** 2)
    assert value == pytest.approx(glob / nsel, rel=1e-12)
    assert list(metrics) == ["rmse", "rmse_gl"]


def test_tensor_prefs_are_checked():
    with pytest.raises(ConfigError, match="pref_atomic"):
        TensorLoss("dipole", sel_type=[0], pref=1.0)
    with pytest.raises(ConfigError, match="both 0"):
        TensorLoss("polar", sel_type=[0], pref=0.0, pref_atomic=0)
    with pytest.raises(ConfigError, match=">= 0"):
        TensorLoss("polar", sel_type=[0], pref=-1.0, pref_atomic=1.0)


def test_make_loss_defaults_and_errors():
    assert isinstance(make_loss(None, "ener"), EnerLoss)
    loss = make_loss({"pref": 1.0, "pref_atomic": 0.0}, "polar", sel_type=[0])
    assert isinstance(loss, TensorLoss) and loss.label == "polarizability"
    with pytest.raises(ConfigError, match="loss_dict/water_dipole"):
        make_loss({"type": "ener"}, "dipole", sel_type=[0], where="loss_dict/water_dipole")
    with pytest.raises(ConfigError, match="Did you mean 'tensor'"):
        make_loss({"type": "tensr"}, "dipole")
    assert sorted(LOSSES.names()) == ["ener", "tensor"]
    assert [a.name for a in TensorLoss.args()] == ["pref", "pref_atomic"]
    assert "relative_f" in [a.name for a in EnerLoss.args()]


def test_label_requirements():
    keys = {r.key: r for r in EnerLoss().label_requirements()}
    assert set(keys) == {"energy", "force", "virial", "atom_ener", "atom_pref"}
    assert keys["atom_pref"].repeat == 3 and keys["force"].atomic
    reqs = TensorLoss("dipole", sel_type=[0], pref=1.0, pref_atomic=1.0).label_requirements()
    by_key = {r.key: r for r in reqs}
    assert tuple(by_key["atomic_dipole"].type_sel) == (0,) and by_key["atomic_dipole"].ndof == 3
    assert not by_key["dipole"].atomic
