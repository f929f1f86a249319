"""Checkpoint -> one frozen ``.pb`` holding the shared descriptor and every head.

The training graph already uses the frozen layout (shared inputs unscoped,
each head under ``heads/<head>/``), so freezing is: import the meta graph,
restore the variables, list the nodes to keep, turn variables into
constants (which also prunes losses, optimiser and labels) and write the
result atomically.  No node is renamed; the descriptor weights exist once.
"""

from __future__ import annotations

import copy
import glob
import json
import logging
import os
import re
from typing import Dict, List, Optional, Sequence

from deepmt import keys
from deepmt.errors import HeadError, ModelFileError
from deepmt.train.config_mt import MULTI_ONLY
from deepmt.utils.files import atomic_write
from deepmt.utils.tf_compat import get_tf, session_config

log = logging.getLogger(__name__)

#: shared outputs kept when present
SHARED_OUTPUTS = (keys.O_DESCRIPTOR, keys.O_NLIST, keys.O_RMAT, keys.O_RMAT_DERIV, keys.O_RIJ,
                  keys.O_MAX_NNEI)
#: attribute scopes whose direct children are kept (constants and variables)
_ATTR_SCOPES = ("descrpt_attr", "model_attr", "fitting_attr", "train_attr", "deepmt_attr")
_ATTR_OPS = ("Const", "VariableV2", "Identity")
_CKPT_SUFFIXES = (".meta", ".index")
_MAX_BYTES = 2 ** 31 - 1


def find_checkpoint(path: str) -> str:
    """Checkpoint prefix from a folder (its ``checkpoint`` file) or a prefix.

    Raises
    ------
    ModelFileError
        No checkpoint there, or its meta graph or index is missing.
    """
    tf = get_tf()
    path = os.fspath(path)
    if os.path.isdir(path):
        state = tf.train.get_checkpoint_state(path)
        if state is None or not state.model_checkpoint_path:
            found = sorted(glob.glob(os.path.join(path, "*.meta")))
            hint = f" (found {found[-1][:-5]!r}: pass it with -c)" if found else ""
            raise ModelFileError(
                f"no checkpoint found in folder {path!r}: it has no 'checkpoint' file{hint}."
            )
        prefix = state.model_checkpoint_path
        if not os.path.isabs(prefix):
            prefix = os.path.normpath(os.path.join(path, prefix))
    else:
        prefix = path
        for suffix in _CKPT_SUFFIXES:
            if prefix.endswith(suffix):
                prefix = prefix[: -len(suffix)]
        prefix = re.sub(r"\.data-\d+-of-\d+$", "", prefix)
    for needed in (".index", ".meta"):
        if not os.path.isfile(prefix + needed):
            raise ModelFileError(
                f"checkpoint {prefix!r} is incomplete or does not exist: {prefix + needed!r} "
                "is missing (deepmt checkpoints are written with their meta graph)."
            )
    return prefix


def _read_meta_graph(prefix: str):
    tf = get_tf()
    meta = tf.MetaGraphDef()
    try:
        with open(prefix + ".meta", "rb") as handle:
            meta.ParseFromString(handle.read())
    except Exception as err:  # OSError, protobuf DecodeError
        raise ModelFileError(f"cannot read the meta graph {prefix + '.meta'!r}: {err}.") from err
    from deepmt import op

    if op.uses_deepmt_ops(meta.graph_def):
        op.load()
    return meta


def select_heads(metadata: Dict, head: Optional[str], source: str) -> List[str]:
    """Heads to keep: all, or the one named (exact, then case-insensitive).

    Raises
    ------
    HeadError
        ``head`` is not a head of the checkpoint.
    """
    heads = metadata["heads"]
    if head is None:
        return list(heads)
    name = keys.match_head(head, heads)
    if name is None:
        raise HeadError(f"checkpoint {source} has no head {head!r}; its heads are: "
                        f"{keys.describe_heads(heads)}.")
    return [name]


def output_nodes(node_ops: Dict[str, str], metadata: Dict, heads: Sequence[str],
                 source: str) -> List[str]:
    """Names of the nodes the frozen graph must keep.

    Parameters
    ----------
    node_ops
        ``{node name: op type}`` of the training graph.
    metadata
        The checkpoint's metadata dict.
    heads
        Heads to keep.
    source
        Checkpoint name for messages.

    Raises
    ------
    ModelFileError
        An input or a head output the inference API needs is absent.
    """
    required = list(keys.INPUTS) + [keys.ATTR_METADATA]
    for head in heads:
        required += keys.required_head_nodes(head, metadata["heads"][head])
    missing = [name for name in required if name not in node_ops]
    if missing:
        raise ModelFileError(
            f"checkpoint {source} lacks the nodes {', '.join(missing)}; it was not built "
            "by deepmt's model (or with another deepmt version)."
        )
    every_head = len(heads) == len(metadata["heads"])
    extra = [name for name in SHARED_OUTPUTS if name in node_ops]
    for name, op_type in node_ops.items():
        if _keep(name, op_type, heads, every_head):
            extra.append(name)
    return list(dict.fromkeys(required + sorted(extra)))


def _keep(name: str, op_type: str, heads: Sequence[str], every_head: bool) -> bool:
    """Outputs ``o_*`` and attribute nodes, shared or of a kept head."""
    in_head = name.startswith("heads/")
    rest = name
    if in_head:
        owners = [h for h in heads if name.startswith(keys.head_scope(h) + "/")]
        if not owners:
            return False
        rest = name[len(keys.head_scope(owners[0])) + 1:]
    if op_type in _ATTR_OPS and re.fullmatch(rf"({'|'.join(_ATTR_SCOPES)})/[^/]+", rest):
        return True
    # root o_* nodes other than SHARED_OUTPUTS might depend on a dropped head
    return (in_head or every_head) and re.fullmatch(r"o_[A-Za-z0-9_]+", rest) is not None


def _string_const(name: str, value: str):
    """A NodeDef holding a scalar string constant."""
    tf = get_tf()
    node = tf.NodeDef()
    node.name = name
    node.op = "Const"
    node.attr["dtype"].type = tf.string.as_datatype_enum
    node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value.encode(), dtype=tf.string))
    return node


def head_training_script(script: Dict, head: str) -> Dict:
    """The training script of a one-head export: every other head left out.

    A multi-task script keeps its form, with only ``head`` in
    ``model/fitting_net_dict``, ``loss_dict``, ``learning_rate_dict``,
    ``training/data_dict`` and ``training/fitting_weight``; a kept positive
    weight becomes 1 (the weights of a normalized script sum to 1).  So
    ``--init-frz-model`` with the export claims only the head it holds.  A
    single-task script (no ``model/fitting_net_dict``) is returned as is.
    """
    model = script.get("model")
    if not isinstance(model, dict) or not isinstance(model.get("fitting_net_dict"), dict):
        return script
    out = copy.deepcopy(script)
    for path in MULTI_ONLY:  # the multi-task sections are exactly the per-head ones
        section = _section(out, path)
        for name in [name for name in section if name != head]:
            del section[name]
    weights = _section(out, ("training", "fitting_weight"))
    if weights.get(head):
        weights[head] = 1.0
    return out


def _section(script: Dict, path: Sequence[str]) -> Dict:
    """The dict at ``path`` of ``script`` (an empty one when absent)."""
    for key in path:
        script = script.get(key) if isinstance(script, dict) else None
    return script if isinstance(script, dict) else {}


def _restrict_training_script(graph_def, head: str) -> None:
    """Rewrite ``train_attr/training_script`` of ``graph_def`` for one head."""
    tf = get_tf()
    for node in graph_def.node:
        if node.name == keys.ATTR_TRAINING_SCRIPT and node.op == "Const":
            raw = tf.make_ndarray(node.attr["value"].tensor).item()
            try:
                script = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
            except ValueError:
                log.warning("%s is not JSON: kept as it is", keys.ATTR_TRAINING_SCRIPT)
                return
            kept = head_training_script(script, head) if isinstance(script, dict) else script
            if kept is not script:
                text = json.dumps(kept, separators=(",", ":"))
                set_string_const(graph_def, keys.ATTR_TRAINING_SCRIPT, text)
            return


def set_string_const(graph_def, name: str, value: str) -> None:
    """Set (or add) the scalar string constant ``name`` of ``graph_def``."""
    new = _string_const(name, value)
    for node in graph_def.node:
        if node.name == name:
            node.CopyFrom(new)
            return
    graph_def.node.extend([new])


def write_graph_atomic(graph_def, path: str) -> None:
    """Write ``graph_def`` to ``path`` through a temporary file and ``os.replace``.

    A reader never sees a half-written model, and a failed write leaves an
    existing file untouched.
    """
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise ModelFileError(f"cannot write {path!r}: folder {directory!r} does not exist.")
    data = graph_def.SerializeToString()
    if len(data) > _MAX_BYTES:
        raise ModelFileError(f"the frozen graph is {len(data)} bytes, over protobuf's 2 GiB limit.")
    atomic_write(path, data)


def _freeze_graph(prefix: str, head: Optional[str]):
    """Restore ``prefix`` and return ``(frozen GraphDef, metadata dict)``."""
    tf = get_tf()
    meta_graph = _read_meta_graph(prefix)
    graph = tf.Graph()
    with graph.as_default():
        saver = tf.train.import_meta_graph(meta_graph, clear_devices=True)
        node_ops = {node.name: node.op for node in graph.as_graph_def().node}
        if keys.ATTR_METADATA not in node_ops:
            raise ModelFileError(
                f"checkpoint {prefix!r} has no {keys.ATTR_METADATA} node; it was not written "
                "by 'deepmt train'."
            )
        with tf.Session(graph=graph, config=session_config()) as sess:
            if saver is not None:
                saver.restore(sess, prefix)
            raw = sess.run(keys.tensor_name(keys.ATTR_METADATA))
            metadata = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
            heads = select_heads(metadata, head, repr(prefix))
            names = output_nodes(node_ops, metadata, heads, repr(prefix))
            frozen = tf.graph_util.convert_variables_to_constants(
                sess, graph.as_graph_def(), names)
    if head is not None:
        metadata["heads"] = {heads[0]: metadata["heads"][heads[0]]}
        metadata["default_head"] = heads[0]
        _restrict_training_script(frozen, heads[0])
    metadata.setdefault("format", keys.FORMAT)
    if "model_version" not in metadata and "version" not in metadata:
        metadata["model_version"] = keys.MODEL_VERSION
    return frozen, metadata


def freeze(checkpoint: str = ".", output: str = "frozen_model.pb",
           head: Optional[str] = None) -> Dict:
    """Freeze a training checkpoint into one ``.pb``.

    Parameters
    ----------
    checkpoint
        A checkpoint folder (its ``checkpoint`` file names the latest) or a
        checkpoint prefix (``model.ckpt-1000``).
    output
        Path of the frozen model, written atomically.
    head
        Keep only this head (a plain single-head file of the same format,
        its metadata listing only that head, which becomes the default, and
        its training script describing only that head).

    Returns
    -------
    dict
        The metadata written into the file.

    Raises
    ------
    ModelFileError
        No or incomplete checkpoint, not a deepmt graph, unwritable output.
    HeadError
        ``head`` is not a head of the checkpoint.
    """
    prefix = find_checkpoint(checkpoint)
    frozen, metadata = _freeze_graph(prefix, head)
    set_string_const(frozen, keys.ATTR_FORMAT, keys.FORMAT)
    set_string_const(frozen, keys.ATTR_METADATA, json.dumps(metadata))
    write_graph_atomic(frozen, output)
    log.info("froze %s (heads: %s) into %s: %d nodes", prefix,
             ", ".join(metadata["heads"]), output, len(frozen.node))
    return metadata
