"""Checkpoint writing order, rotation, links, and survival of a crash mid-save."""

import os

import numpy as np
import pytest

from deepmt.errors import ModelFileError
from deepmt.train.checkpoint import (CheckpointManager, checkpoint_files, read_state,
                                     resolve_checkpoint)


class _Graph:
    """A graph with one variable, a saver and a session."""

    def __init__(self):
        from deepmt.utils.tf_compat import get_tf

        tf = self.tf = get_tf()
        self.graph = tf.Graph()
        with self.graph.as_default():
            self.var = tf.get_variable("w", [3], tf.float64,
                                       initializer=tf.zeros_initializer())
            self.saver = tf.train.Saver(max_to_keep=2)
            init = tf.global_variables_initializer()
        self.sess = tf.Session(graph=self.graph)
        self.sess.run(init)

    def set(self, value):
        self.var.load(np.full(3, float(value)), self.sess)

    def restored(self, prefix):
        fresh = _Graph()
        fresh.saver.restore(fresh.sess, prefix)
        return fresh.sess.run(fresh.var)[0]


@pytest.fixture
def graph():
    g = _Graph()
    yield g
    g.sess.close()


def test_save_rotation_links_and_state(tmp_path, graph):
    manager = CheckpointManager(graph.saver, str(tmp_path / "model.ckpt"), max_to_keep=2)
    for step in (10, 20, 30):
        graph.set(step)
        path = manager.save(graph.sess, step)
        assert all(os.path.exists(f"{path}{s}") for s in (".index", ".meta"))
    latest, every = read_state(str(tmp_path))
    assert latest == str(tmp_path / "model.ckpt-30")
    assert every == [str(tmp_path / "model.ckpt-20"), str(tmp_path / "model.ckpt-30")]
    assert checkpoint_files(str(tmp_path / "model.ckpt-10")) == []  # rotated out
    # the state file holds relative paths, as TF's reader expects
    text = (tmp_path / "checkpoint").read_text()
    assert 'model_checkpoint_path: "model.ckpt-30"' in text
    assert graph.tf.train.latest_checkpoint(str(tmp_path)) == str(tmp_path / "model.ckpt-30")
    # the link prefix, the folder and the numbered prefix all resolve to step 30
    for given in (tmp_path / "model.ckpt", tmp_path, tmp_path / "model.ckpt-30"):
        prefix = resolve_checkpoint(str(given))
        assert prefix.endswith("model.ckpt-30")
        assert graph.restored(prefix) == 30.0
    # the meta graph holds the training graph: importing it alone restores w
    tf = graph.tf
    with tf.Graph().as_default() as fresh, tf.Session(graph=fresh) as sess:
        saver = tf.train.import_meta_graph(str(tmp_path / "model.ckpt-30.meta"))
        saver.restore(sess, str(tmp_path / "model.ckpt-30"))
        assert sess.run("w:0").tolist() == [30.0] * 3


def test_keep_existing_counts_old_checkpoints(tmp_path, graph):
    first = CheckpointManager(graph.saver, str(tmp_path / "model.ckpt"), max_to_keep=2)
    first.save(graph.sess, 1)
    first.save(graph.sess, 2)
    second = CheckpointManager(graph.saver, str(tmp_path / "model.ckpt"), max_to_keep=2,
                               keep_existing=True)
    second.save(graph.sess, 3)
    assert [os.path.basename(p) for p in read_state(str(tmp_path))[1]] == \
        ["model.ckpt-2", "model.ckpt-3"]
    assert not os.path.exists(tmp_path / "model.ckpt-1.index")


@pytest.mark.parametrize("crash_in", ["export_meta_graph", "write_state"])
def test_crash_mid_save_keeps_previous_checkpoint(tmp_path, graph, monkeypatch, crash_in):
    manager = CheckpointManager(graph.saver, str(tmp_path / "model.ckpt"), max_to_keep=1)
    graph.set(1.0)
    manager.save(graph.sess, 1)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("killed")

    if crash_in == "export_meta_graph":  # after the variables were written
        monkeypatch.setattr(graph.saver, "export_meta_graph", crash)
    else:  # after variables and meta graph, before the state file
        import deepmt.train.checkpoint as ckpt

        monkeypatch.setattr(ckpt, "write_state", crash)
    graph.set(2.0)
    with pytest.raises(KeyboardInterrupt):
        manager.save(graph.sess, 2)
    # the state file and the links still name the complete step-1 checkpoint
    for given in (tmp_path, tmp_path / "model.ckpt"):
        prefix = resolve_checkpoint(str(given))
        assert prefix == str(tmp_path / "model.ckpt-1")
        assert os.path.exists(prefix + ".meta") and os.path.exists(prefix + ".index")
        assert graph.restored(prefix) == 1.0
    # max_to_keep=1 did not delete step 1 before step 2 was complete
    assert os.path.exists(tmp_path / "model.ckpt-1.index")


def test_resolve_errors(tmp_path):
    with pytest.raises(ModelFileError, match="no 'checkpoint' state file"):
        resolve_checkpoint(str(tmp_path), "--restart")
    with pytest.raises(ModelFileError, match="--init-model: no checkpoint"):
        resolve_checkpoint(str(tmp_path / "nothing.ckpt"), "--init-model")


def test_variable_mismatches_name_the_variables(tmp_path, graph):
    from deepmt.train.checkpoint import variable_mismatches

    manager = CheckpointManager(graph.saver, str(tmp_path / "model.ckpt"), max_to_keep=1)
    prefix = manager.save(graph.sess, 1)
    assert variable_mismatches(prefix, [graph.var]) == []
    tf = graph.tf
    with tf.Graph().as_default():
        other = [tf.get_variable("w", [4], tf.float64), tf.get_variable("v", [1], tf.float64)]
    problems = variable_mismatches(prefix, other)
    assert problems == ["missing from the checkpoint: v",
                        "different shapes: w (checkpoint [3], model [4])"]
    (tmp_path / "broken.index").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelFileError, match="cannot read checkpoint"):
        variable_mismatches(str(tmp_path / "broken"), other)


def test_unwritable_folder_is_a_clean_error(tmp_path, graph):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    manager = CheckpointManager(graph.saver, str(blocker / "model.ckpt"), max_to_keep=1)
    with pytest.raises(ModelFileError, match="cannot write checkpoint"):
        manager.save(graph.sess, 1)
