"""Reading a frozen deepmt ``.pb``: the GraphDef and its metadata.

Only NumPy and protobuf work happens here; nothing is run.  The metadata is
read straight from the constant node ``deepmt_attr/metadata``, so
``deepmt show`` needs neither the op library nor a session.
"""

from __future__ import annotations

import json
import os
from typing import Dict, List

from deepmt import keys
from deepmt.errors import ModelFileError
from deepmt.utils.tf_compat import get_tf

_METADATA_KEYS = ("format", "type_map", "rcut", "sel", "heads", "default_head")


def read_graph_def(path: str):
    """Parse a binary GraphDef file.

    Raises
    ------
    ModelFileError
        Missing, unreadable or non-GraphDef file.
    """
    tf = get_tf()
    if not os.path.isfile(path):
        raise ModelFileError(f"model file {path!r} does not exist (or is not a file).")
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as err:
        raise ModelFileError(f"cannot read model file {path!r}: {err}.") from err
    graph_def = tf.GraphDef()
    try:
        graph_def.ParseFromString(data)
    except Exception as err:  # protobuf's DecodeError and friends
        raise ModelFileError(
            f"model file {path!r} is not a frozen TensorFlow graph (truncated or corrupt "
            f"protobuf: {err}); freeze the model again with 'deepmt freeze'."
        ) from err
    return graph_def


def _const_string(node) -> str:
    tf = get_tf()
    value = tf.make_ndarray(node.attr["value"].tensor)
    raw = value.item() if value.shape == () else value.reshape(-1)[0]
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def model_version(meta: Dict) -> str:
    """The file-format version: ``model_version``, else ``version`` (older files)."""
    return str(meta.get("model_version", meta.get("version", "")))


def ntypes_of(meta: Dict) -> int:
    """Number of model types: the type map's length, else ``len(sel)``."""
    return len(meta["type_map"]) if meta.get("type_map") else len(meta["sel"])


def _version_readable(version: str) -> bool:
    """Same major version and a minor version not newer than the code's."""
    major, _, minor = version.partition(".")
    code_major, _, code_minor = keys.MODEL_VERSION.partition(".")
    try:
        return major == code_major and int(minor or 0) <= int(code_minor or 0)
    except ValueError:
        return False


def _check_metadata(meta: Dict, path: str) -> None:
    missing = [key for key in _METADATA_KEYS if key not in meta]
    if missing or not isinstance(meta.get("heads"), dict) or not meta["heads"]:
        raise ModelFileError(
            f"model file {path!r} has incomplete deepmt metadata (missing "
            f"{', '.join(missing) or 'heads'}); freeze it again with this deepmt version."
        )
    for name, info in meta["heads"].items():
        if info.get("type") not in keys.HEAD_OUTPUTS:
            raise ModelFileError(
                f"head {name!r} of model file {path!r} has unknown kind {info.get('type')!r}; "
                f"this deepmt knows {', '.join(keys.HEAD_OUTPUTS)}."
            )
    version = str(model_version(meta))
    if not _version_readable(version):
        raise ModelFileError(
            f"model file {path!r} has model version {version}, which this deepmt "
            f"(model version {keys.MODEL_VERSION}) cannot read; use a matching deepmt."
        )


def read_metadata(graph_def, path: str) -> Dict:
    """The metadata dict of a frozen deepmt graph, checked.

    Raises
    ------
    ModelFileError
        The graph is not a deepmt model, has another format or version, or
        its metadata is incomplete.
    """
    nodes = {node.name: node for node in graph_def.node
             if node.name in (keys.ATTR_FORMAT, keys.ATTR_METADATA)}
    if keys.ATTR_FORMAT not in nodes or keys.ATTR_METADATA not in nodes:
        raise ModelFileError(
            f"model file {path!r} is not a deepmt model: it lacks the nodes "
            f"{keys.ATTR_FORMAT!r} and {keys.ATTR_METADATA!r} (DeePMD-kit graphs and "
            "checkpoints are not model files; freeze with 'deepmt freeze')."
        )
    try:
        fmt = _const_string(nodes[keys.ATTR_FORMAT])
        meta = json.loads(_const_string(nodes[keys.ATTR_METADATA]))
    except (ValueError, TypeError, IndexError) as err:
        raise ModelFileError(f"model file {path!r} has unreadable deepmt metadata: {err}.") from err
    if fmt != keys.FORMAT or meta.get("format", fmt) != keys.FORMAT:
        raise ModelFileError(
            f"model file {path!r} has format {fmt!r}; this deepmt reads {keys.FORMAT!r}."
        )
    _check_metadata(meta, path)
    return meta


def head_outputs(graph_def, head: str) -> List[str]:
    """Output node names (``o_*``, relative) present under ``heads/<head>/``."""
    scope = keys.head_scope(head) + "/"
    names = []
    for node in graph_def.node:
        rest = node.name[len(scope):] if node.name.startswith(scope) else ""
        if rest.startswith("o_") and "/" not in rest:
            names.append(rest)
    return names


def check_head_nodes(graph_def, meta: Dict, path: str) -> None:
    """Every listed head must have the output nodes of its kind.

    Raises
    ------
    ModelFileError
        A head or shared input is missing nodes.
    """
    present = {node.name for node in graph_def.node}
    needed = list(keys.INPUTS)
    for head, info in meta["heads"].items():
        needed += keys.required_head_nodes(head, info)
    missing = [name for name in needed if name not in present]
    if missing:
        raise ModelFileError(
            f"model file {path!r} is incomplete: nodes {', '.join(missing)} are missing; "
            "freeze the model again with 'deepmt freeze'."
        )
