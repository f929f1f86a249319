"""Crash-safe checkpoints.

``tf.train.Saver.save`` updates the ``checkpoint`` state file and deletes
old checkpoints *before* it writes the new ``.meta`` file, so a kill at the
wrong moment leaves the state file pointing at a checkpoint that cannot be
frozen.  :class:`CheckpointManager` orders the writes itself:

1. variables: ``<prefix>-<step>.index`` and ``.data-*`` (TF writes them under
   temporary names and renames them when complete);
2. graph: ``<prefix>-<step>.meta`` (written to a temporary file, renamed);
3. the ``checkpoint`` state file (temporary file + ``os.replace``);
4. only then: old checkpoints beyond ``max_ckpt_keep`` are deleted and the
   convenience links ``<prefix>.index|.meta|.data-*`` are moved to the new
   files.

A kill at any point therefore leaves the state file naming a complete
checkpoint.  The state file stores paths relative to its folder.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import re
from typing import List

from deepmt.errors import ModelFileError
from deepmt.utils.files import atomic_write

log = logging.getLogger("deepmt.train")

STATE_FILE = "checkpoint"
_ENTRY = re.compile(r'^\s*(model_checkpoint_path|all_model_checkpoint_paths)\s*:\s*"(.*)"\s*$')


def read_state(directory: str) -> tuple:
    """``(latest, all)`` checkpoint prefixes listed in ``directory/checkpoint``.

    Relative entries are resolved against ``directory``; ``(None, [])`` when
    there is no state file.
    """
    path = os.path.join(directory, STATE_FILE)
    if not os.path.exists(path):
        return None, []
    latest, every = None, []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            match = _ENTRY.match(line)
            if not match:
                continue
            value = json.loads(f'"{match.group(2)}"')
            value = value if os.path.isabs(value) else os.path.join(directory, value)
            if match.group(1) == "model_checkpoint_path":
                latest = value
            else:
                every.append(value)
    return latest, every


def write_state(directory: str, latest: str, every: List[str]) -> None:
    """Atomically write the TF checkpoint state file (relative paths)."""
    def rel(path: str) -> str:
        return json.dumps(os.path.relpath(path, directory))

    lines = [f"model_checkpoint_path: {rel(latest)}"]
    lines += [f"all_model_checkpoint_paths: {rel(p)}" for p in every]
    atomic_write(os.path.join(directory, STATE_FILE), "\n".join(lines) + "\n")


def checkpoint_files(prefix: str) -> List[str]:
    """The files of one checkpoint (``.index``, ``.meta``, ``.data-*``)."""
    files = [f"{prefix}.index", f"{prefix}.meta"]
    files += glob.glob(glob.escape(prefix) + ".data-*")
    return [f for f in files if os.path.lexists(f)]


def resolve_checkpoint(path: str, what: str = "checkpoint") -> str:
    """Turn a user path into a checkpoint prefix that TensorFlow can restore.

    Parameters
    ----------
    path
        A prefix (``model.ckpt-200`` or the link prefix ``model.ckpt``) or a
        folder holding a ``checkpoint`` state file.
    what
        The option's name for error messages (``--restart``).

    Raises
    ------
    ModelFileError
        Nothing restorable is found at ``path``.
    """
    if os.path.isdir(path):
        latest, _ = read_state(path)
        if latest is None:
            raise ModelFileError(
                f"{what}: the folder {path!r} holds no '{STATE_FILE}' state file; give "
                "a checkpoint prefix such as model.ckpt-1000 or the folder of a run.")
        path = latest
    index = f"{path}.index"
    if os.path.islink(index):
        # a convenience link: use the numbered checkpoint it points at, whose
        # files never change (the links are replaced one by one)
        target = os.path.join(os.path.dirname(index), os.readlink(index))
        path = target[:-len(".index")]
    if not os.path.exists(f"{path}.index"):
        raise ModelFileError(
            f"{what}: no checkpoint at {path!r} (expected {path}.index and "
            f"{path}.data-*); give the prefix written by 'deepmt train' (e.g. "
            "model.ckpt or model.ckpt-1000) or the folder holding its 'checkpoint' file.")
    return path


def variable_mismatches(prefix: str, variables, limit: int = 3) -> List[str]:
    """Why ``variables`` cannot be restored from ``prefix`` (empty if they can).

    Parameters
    ----------
    prefix
        Checkpoint prefix.
    variables
        Graph variables to restore.
    limit
        Names listed per kind of problem.

    Returns
    -------
    list of str
        Human-readable problems: variables the checkpoint lacks, and
        variables whose shapes differ.
    """
    from deepmt.utils.tf_compat import get_tf

    tf = get_tf()
    try:
        stored = tf.train.load_checkpoint(prefix).get_variable_to_shape_map()
    except (tf.errors.OpError, ValueError) as err:
        raise ModelFileError(f"cannot read checkpoint {prefix!r}: "
                             f"{str(err).strip().splitlines()[0]}") from None
    missing, shapes = [], []
    for var in variables:
        name = var.op.name
        if name not in stored:
            missing.append(name)
        elif list(stored[name]) != var.shape.as_list():
            shapes.append(f"{name} (checkpoint {list(stored[name])}, model "
                          f"{var.shape.as_list()})")
    problems = []
    if missing:
        more = f" and {len(missing) - limit} more" if len(missing) > limit else ""
        problems.append(f"missing from the checkpoint: {', '.join(missing[:limit])}{more}")
    if shapes:
        more = f" and {len(shapes) - limit} more" if len(shapes) > limit else ""
        problems.append(f"different shapes: {', '.join(shapes[:limit])}{more}")
    return problems


class CheckpointManager:
    """Saves numbered checkpoints with a crash-safe file order.

    Parameters
    ----------
    saver
        A ``tf.train.Saver`` over every variable to store.
    prefix
        ``training/save_ckpt`` (e.g. ``model.ckpt``); numbered files are
        ``<prefix>-<step>.*`` and ``<prefix>.*`` link to the newest.
    max_to_keep
        Number of numbered checkpoints kept (``max_ckpt_keep``).
    keep_existing
        Take over the checkpoints already listed in the state file (restart),
        so that ``max_to_keep`` counts them too.
    """

    def __init__(self, saver, prefix: str, max_to_keep: int, keep_existing: bool = False):
        self.saver = saver
        self.prefix = os.path.abspath(prefix)
        self.directory = os.path.dirname(self.prefix)
        self.max_to_keep = max(int(max_to_keep), 1)
        self.kept: List[str] = []
        if keep_existing:
            _, every = read_state(self.directory)
            self.kept = [p for p in every if os.path.exists(f"{p}.index")]

    def save(self, sess, step: int) -> str:
        """Write the checkpoint of ``step`` and return its prefix.

        Raises
        ------
        ModelFileError
            The files cannot be written (missing permission, full disk).
        """
        from deepmt.utils.tf_compat import get_tf

        tf = get_tf()
        try:
            return self._save(sess, step)
        except (OSError, tf.errors.OpError) as err:
            detail = getattr(err, "strerror", None) or str(err).strip().splitlines()[0]
            raise ModelFileError(f"cannot write checkpoint {self.prefix}-{step} "
                                 f"(training/save_ckpt): {detail}") from None

    def _save(self, sess, step: int) -> str:
        os.makedirs(self.directory, exist_ok=True)
        path = self.saver.save(sess, self.prefix, global_step=step,
                               write_meta_graph=False, write_state=False)
        with sess.graph.as_default():  # the meta graph is the default graph's
            self.saver.export_meta_graph(f"{path}.meta")
        kept = [p for p in self.kept if p != path] + [path]
        dropped = kept[:-self.max_to_keep] if len(kept) > self.max_to_keep else []
        kept = kept[len(dropped):]
        write_state(self.directory, path, kept)
        self.kept = kept
        for old in dropped:
            for name in checkpoint_files(old):
                os.remove(name)
        self._link_latest(path)
        return path

    def _link_latest(self, path: str) -> None:
        """Point ``<prefix>.index|.meta|.data-*`` at the files of ``path``."""
        for target in checkpoint_files(path):
            suffix = target[len(path):]
            link = self.prefix + suffix
            tmp = f"{link}.tmp{os.getpid()}"
            if os.path.lexists(tmp):
                os.remove(tmp)
            try:
                os.symlink(os.path.basename(target), tmp)
            except OSError:  # no symlinks on this file system: copy
                import shutil

                shutil.copyfile(target, tmp)
            os.replace(tmp, link)
