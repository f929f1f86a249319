"""Head selection, several heads in one run, pruning, and unreadable model files."""

import json

import numpy as np
import pytest
from infer_fakes import HEADS, random_frames

from deepmt import keys
from deepmt.errors import HeadError, InputError, ModelFileError
from deepmt.infer import (DeepDipole, DeepEval, DeepPolar, DeepPot, DeepPotential,
                          eval_heads)
from deepmt.infer.heads import resolve_head
from deepmt.utils.tf_compat import get_tf

KIND_HEADS = {
    "e1": {"type": "ener"}, "e2": {"type": "ener"}, "d": {"type": "dipole"},
}


@pytest.fixture(scope="module")
def base(united_model):
    return DeepEval(united_model)


def test_resolve_head_rules():
    assert resolve_head(KIND_HEADS, None, ("ener",), "e2", "DeepPot", "m") == "e2"
    assert resolve_head(KIND_HEADS, None, ("dipole",), "e2", "DeepDipole", "m") == "d"
    assert resolve_head(KIND_HEADS, "E1", ("ener",), None, "DeepPot", "m") == "e1"
    assert resolve_head(KIND_HEADS, "default", ("ener",), "e2", "DeepPot", "m") == "e2"
    with pytest.raises(HeadError, match=r"several ener heads \(e1, e2\).*pass head="):
        resolve_head(KIND_HEADS, None, ("ener",), "d", "DeepPot", "m")
    with pytest.raises(HeadError, match="has no polar head for DeepPolar"):
        resolve_head(KIND_HEADS, None, ("polar",), "e1", "DeepPolar", "m")


def test_head_errors_list_the_heads(united_model):
    listing = r"water \(ener\), Dip \(dipole\), pol \(polar\), param \(ener\)"
    with pytest.raises(HeadError, match=rf"no head 'watr'; its heads are: {listing}\. "
                                        r"Did you mean 'water'\?"):
        DeepPot(united_model, head="watr")
    with pytest.raises(HeadError, match=rf"'Dip' .* is a dipole head, but DeepPot evaluates "
                                        rf"ener heads \(water, param\).*{listing}"):
        DeepPot(united_model, head="Dip")
    with pytest.raises(HeadError, match="is a ener head, but DeepPolar"):
        DeepPolar(united_model, head="water")
    with pytest.raises(KeyError):  # HeadError is also a KeyError
        DeepDipole(united_model, head="nothing")


def test_default_and_only_heads(base):
    assert DeepPot(base).head == "water"          # default head
    assert DeepDipole(base).head == "Dip"         # the only dipole head
    assert DeepPolar(base).head == "pol"
    assert DeepDipole(base, head="DIP").head == "Dip"
    assert base.get_heads() == list(HEADS)
    assert base.get_default_head() == "water"
    assert base.get_head_info("POL") == HEADS["pol"]
    assert base.get_head_info() == HEADS


def test_factory_dispatches_on_kind(base, united_model):
    assert isinstance(DeepPotential(united_model), DeepPot)
    assert isinstance(DeepPotential(base, head="dip"), DeepDipole)
    polar = DeepPotential(base, head="pol")
    assert isinstance(polar, DeepPolar) and polar._model is base._model
    with pytest.raises(HeadError):
        DeepPotential(base, head="unknown")


def test_eval_heads_equals_separate_calls(base):
    coord, cell, atype = random_frames(nframes=3, natoms=7, seed=6)
    params = {"fparam": [0.5, 0.1], "aparam": [0.2]}
    together = eval_heads(base, coord, cell, atype, atomic=True, **params)
    assert list(together) == list(HEADS)
    for head in HEADS:
        kwargs = params if head == "param" else {}
        alone = DeepPotential(base, head=head).eval(coord, cell, atype, atomic=True, **kwargs)
        if isinstance(alone, tuple):
            for one, two in zip(together[head], alone):
                np.testing.assert_array_equal(one, two)
        else:
            np.testing.assert_array_equal(together[head], alone)
    subset = base.eval_heads(coord, None, atype, heads=["DIP", "water"],
                             fparam={"param": [1.0, 1.0]})
    assert list(subset) == ["DIP", "water"] and subset["DIP"].shape == (3, 3)


def _traced_nodes(evaluator, monkeypatch, call):
    """Names of the graph nodes executed by ``call`` (all session runs)."""
    tf = get_tf()
    session = evaluator._model.session
    run = session.run
    executed, runs = [], []

    def traced(fetches, feed_dict=None):
        metadata = tf.RunMetadata()
        options = tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE)
        out = run(fetches, feed_dict=feed_dict, options=options, run_metadata=metadata)
        runs.append(1)
        executed.extend(stat.node_name for dev in metadata.step_stats.dev_stats
                        for stat in dev.node_stats)
        return out

    monkeypatch.setattr(session, "run", traced)
    call()
    return executed, len(runs)


def test_only_the_requested_head_runs(united_model, monkeypatch):
    pot = DeepPot(united_model, head="water")
    coord, cell, atype = random_frames(nframes=2, natoms=6)
    executed, runs = _traced_nodes(pot, monkeypatch, lambda: pot.eval(coord, cell, atype))
    assert runs == 1
    assert any(name.startswith("load/heads/water/") for name in executed)
    for other in ("Dip", "pol", "param"):
        assert not [n for n in executed if n.startswith(f"load/heads/{other}/")], other


def test_several_heads_share_one_descriptor_evaluation(united_model, monkeypatch):
    base = DeepEval(united_model)
    coord, cell, atype = random_frames(nframes=2, natoms=6)
    executed, runs = _traced_nodes(
        base, monkeypatch, lambda: eval_heads(base, coord, cell, atype, heads=["water", "pol"]))
    # one run: TF executes each node (the shared descriptor included) once per run
    assert runs == 1
    assert any(n.startswith("load/heads/water/") for n in executed)
    assert any(n.startswith("load/heads/pol/") for n in executed)
    assert not any(n.startswith("load/heads/Dip/") for n in executed)


def _write_graph(path, build):
    tf = get_tf()
    graph = tf.Graph()
    with graph.as_default():
        build(tf)
    with open(path, "wb") as handle:
        handle.write(graph.as_graph_def().SerializeToString())


def test_unreadable_model_files(tmp_path, united_model):
    with pytest.raises(ModelFileError, match="does not exist"):
        DeepEval(str(tmp_path / "missing.pb"))
    corrupt = tmp_path / "corrupt.pb"
    corrupt.write_bytes(b"\x0a\xff\xff\xff\xff\x0f garbage")
    with pytest.raises(ModelFileError, match="not a frozen TensorFlow graph"):
        DeepEval(str(corrupt))
    truncated = tmp_path / "truncated.pb"
    data = open(united_model, "rb").read()
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError):
        DeepEval(str(truncated))
    plain = tmp_path / "plain.pb"
    _write_graph(plain, lambda tf: tf.constant(1.0, name="o_energy"))
    with pytest.raises(ModelFileError, match="is not a deepmt model"):
        DeepPot(str(plain))
    with pytest.raises(InputError, match="path of a frozen .pb"):
        DeepEval(42)


def _metadata_graph(fmt, meta):
    def build(tf):
        tf.constant(fmt, name=keys.ATTR_FORMAT)
        tf.constant(json.dumps(meta), name=keys.ATTR_METADATA)
    return build


def test_wrong_format_version_or_incomplete_metadata(tmp_path):
    meta = {"format": keys.FORMAT, "model_version": keys.MODEL_VERSION, "type_map": ["O"],
            "rcut": 1.0, "sel": [1], "heads": {"e": {"type": "ener"}}, "default_head": "e"}
    cases = [
        ("other_format", dict(meta), "has format 'other_format'"),
        (keys.FORMAT, dict(meta, model_version="9.0"), "model version 9.0"),
        (keys.FORMAT, dict(meta, model_version="1.7"), "model version 1.7"),
        (keys.FORMAT, {k: v for k, v in meta.items() if k != "type_map"}, "missing type_map"),
        (keys.FORMAT, dict(meta, heads={"e": {"type": "wfc"}}), "unknown kind 'wfc'"),
        (keys.FORMAT, meta, r"incomplete: nodes t_coord.*heads/e/o_energy"),
    ]
    for index, (fmt, content, message) in enumerate(cases):
        path = tmp_path / f"m{index}.pb"
        _write_graph(path, _metadata_graph(fmt, content))
        with pytest.raises(ModelFileError, match=message):
            DeepEval(str(path))
