"""Freezing: checkpoint lookup, pruning, metadata, single-head export, atomic write."""

import json
import os
import shutil

import numpy as np
import pytest
from infer_fakes import HEADS, TYPE_MAP, random_frames

from deepmt import keys
from deepmt.errors import HeadError, ModelFileError
from deepmt.freeze import find_checkpoint, freeze
from deepmt.infer import DeepPot
from deepmt.infer.model_file import read_graph_def, read_metadata
from deepmt.utils.tf_compat import get_tf


def test_find_checkpoint_accepts_folder_prefix_and_file(fake_checkpoint):
    folder = os.path.dirname(fake_checkpoint)
    assert find_checkpoint(folder) == fake_checkpoint
    assert find_checkpoint(fake_checkpoint) == fake_checkpoint
    assert find_checkpoint(fake_checkpoint + ".meta") == fake_checkpoint
    assert find_checkpoint(fake_checkpoint + ".index") == fake_checkpoint


def test_find_checkpoint_errors(tmp_path, fake_checkpoint):
    with pytest.raises(ModelFileError, match="no checkpoint found in folder"):
        find_checkpoint(str(tmp_path))
    with pytest.raises(ModelFileError, match="does not exist"):
        find_checkpoint(str(tmp_path / "model.ckpt-5"))
    # a checkpoint written without its meta graph cannot be frozen
    for suffix in (".index", ".data-00000-of-00001"):
        shutil.copy(fake_checkpoint + suffix, tmp_path / f"bare{suffix}")
    with pytest.raises(ModelFileError, match=r"bare\.meta' is missing"):
        find_checkpoint(str(tmp_path / "bare"))


def test_frozen_graph_is_pruned_and_holds_no_variables(united_model):
    graph_def = read_graph_def(united_model)
    names = {node.name for node in graph_def.node}
    ops = {node.op for node in graph_def.node}
    assert not ops & {"VariableV2", "Assign", "ApplyAdam", "SaveV2", "RestoreV2"}
    assert not [n for n in names if "Adam" in n or n.startswith("label_")]
    for name in (keys.T_COORD, keys.T_TYPE, keys.T_NATOMS, keys.T_BOX, keys.T_MESH,
                 keys.O_DESCRIPTOR, keys.DESCRPT_RCUT, keys.TYPE_MAP, keys.ATTR_FORMAT,
                 keys.ATTR_TRAINING_SCRIPT, "heads/param/t_fparam", "heads/param/t_aparam",
                 "heads/water/fitting_attr/t_bias_atom_e"):
        assert name in names, name
    for head, info in HEADS.items():
        expected = {"ener": keys.O_ENERGY, "dipole": keys.O_DIPOLE, "polar": keys.O_POLAR}
        assert keys.head_node(head, expected[info["type"]]) in names


def test_descriptor_weights_are_stored_once(united_model):
    tf = get_tf()
    graph_def = read_graph_def(united_model)
    blobs = [node.attr["value"].tensor.tensor_content for node in graph_def.node
             if node.op == "Const" and len(node.attr["value"].tensor.tensor_content) > 64]
    assert len(blobs) == len(set(blobs))
    embeds = [node for node in graph_def.node if node.name.endswith("type_embed")]
    assert len(embeds) == 1 and embeds[0].op == "Const"
    assert tf.make_ndarray(embeds[0].attr["value"].tensor).shape == (len(TYPE_MAP), 6)


def test_metadata_lists_every_head(united_model):
    meta = read_metadata(read_graph_def(united_model), united_model)
    assert meta["heads"] == HEADS
    assert meta["default_head"] == "water"
    assert meta["format"] == keys.FORMAT and meta["type_map"] == TYPE_MAP


def _training_graph_outputs(prefix, frames, head):
    """Run the checkpointed training graph itself on frames (atoms pre-sorted)."""
    tf = get_tf()
    coord, cell, atype = frames
    order = np.argsort(atype, kind="stable")
    counts = np.bincount(atype, minlength=len(TYPE_MAP))
    nat = atype.size
    graph = tf.Graph()
    with graph.as_default():
        saver = tf.train.import_meta_graph(prefix + ".meta")
        with tf.Session(graph=graph) as sess:
            saver.restore(sess, prefix)
            feed = {"t_coord:0": coord[:, order].reshape(-1),
                    "t_type:0": np.tile(atype[order], coord.shape[0]),
                    "t_natoms:0": np.r_[nat, nat, counts], "t_box:0": cell.reshape(-1),
                    "t_mesh:0": np.zeros(6, np.int32)}
            names = [keys.head_node(head, n) + ":0" for n in (keys.O_ENERGY, keys.O_FORCE)]
            energy, force = sess.run(names, feed_dict=feed)
    unsort = np.argsort(order)
    return energy, force.reshape(coord.shape[0], nat, 3)[:, unsort]


def test_frozen_model_reproduces_training_graph_bitwise(fake_checkpoint, united_model):
    frames = random_frames(nframes=3, natoms=7, seed=4)
    energy, force = _training_graph_outputs(fake_checkpoint, frames, "water")
    e, f, _ = DeepPot(united_model, head="water").eval(*frames)
    np.testing.assert_array_equal(e[:, 0], energy)
    np.testing.assert_array_equal(f, force)


def test_single_head_export_matches_united_file(united_model, single_head_models):
    frames = random_frames(nframes=2, natoms=6, seed=5)
    for head, path in single_head_models.items():
        graph_def = read_graph_def(path)
        meta = read_metadata(graph_def, path)
        assert list(meta["heads"]) == [head] and meta["default_head"] == head
        assert meta["heads"][head] == HEADS[head]
        others = [n.name for n in graph_def.node if n.name.startswith("heads/")
                  and not n.name.startswith(f"heads/{head}/")]
        assert others == []
    params = {"fparam": [0.3, -0.2], "aparam": [0.7]}
    single = DeepPot(single_head_models["param"]).eval(*frames, atomic=True, **params)
    united = DeepPot(united_model, head="param").eval(*frames, atomic=True, **params)
    for one, two in zip(single, united):
        np.testing.assert_array_equal(one, two)


def test_freeze_head_is_case_insensitive_and_unknown_head_fails(fake_checkpoint, tmp_path):
    meta = freeze(fake_checkpoint, str(tmp_path / "dip.pb"), head="dip")
    assert list(meta["heads"]) == ["Dip"]
    with pytest.raises(HeadError, match=r"no head 'nope'.*water \(ener\), Dip \(dipole\)"):
        freeze(fake_checkpoint, str(tmp_path / "x.pb"), head="nope")
    assert not (tmp_path / "x.pb").exists()


def test_failed_freeze_leaves_existing_file_and_no_temporaries(fake_checkpoint, tmp_path):
    target = tmp_path / "model.pb"
    target.write_bytes(b"previous")
    with pytest.raises(HeadError):
        freeze(fake_checkpoint, str(target), head="missing")
    assert target.read_bytes() == b"previous"
    freeze(fake_checkpoint, str(target), head="water")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pb"]
    assert read_metadata(read_graph_def(str(target)), str(target))["default_head"] == "water"
    with pytest.raises(ModelFileError, match="does not exist"):
        freeze(fake_checkpoint, str(tmp_path / "no" / "such" / "dir.pb"))


def test_checkpoint_without_metadata_is_rejected(tmp_path):
    tf = get_tf()
    graph = tf.Graph()
    with graph.as_default():
        tf.get_variable("w", [2], tf.float64)
        saver = tf.train.Saver()
        with tf.Session(graph=graph) as sess:
            sess.run(tf.global_variables_initializer())
            saver.save(sess, str(tmp_path / "plain.ckpt"))
    with pytest.raises(ModelFileError, match="not written by 'deepmt train'"):
        freeze(str(tmp_path), str(tmp_path / "out.pb"))


def test_checkpoint_missing_head_outputs_is_rejected(tmp_path):
    tf = get_tf()
    graph = tf.Graph()
    with graph.as_default():
        for name in (keys.T_COORD, keys.T_BOX):
            tf.placeholder(tf.float64, [None], name=name)
        for name in (keys.T_TYPE, keys.T_NATOMS, keys.T_MESH):
            tf.placeholder(tf.int32, [None], name=name)
        meta = {"heads": {"e": HEADS["water"]}, "default_head": "e"}
        tf.constant(json.dumps(meta), name=keys.ATTR_METADATA)
        tf.get_variable("w", [2], tf.float64)
        saver = tf.train.Saver()
        with tf.Session(graph=graph) as sess:
            sess.run(tf.global_variables_initializer())
            saver.save(sess, str(tmp_path / "m.ckpt"))
    with pytest.raises(ModelFileError, match="lacks the nodes heads/e/o_energy"):
        freeze(str(tmp_path / "m.ckpt"), str(tmp_path / "out.pb"))
