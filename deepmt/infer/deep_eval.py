"""Base of the inference classes: one frozen model, its own graph and session.

:class:`DeepEval` imports a frozen deepmt ``.pb`` under a name prefix into a
fresh ``tf.Graph``, reads the metadata (heads, type map, cut-off) and keeps
one session.  Evaluators for a head (:class:`~deepmt.infer.DeepPot`,
:class:`~deepmt.infer.DeepDipole`, ...) derive from it; passing an existing
evaluator instead of a path shares its graph and session, so several heads
of one file cost one import.
"""

from __future__ import annotations

import copy
import os
from typing import Dict, List, Mapping, Optional, Tuple

import numpy as np

from deepmt import keys
from deepmt.errors import InputError, ModelFileError
from deepmt.infer import heads as head_lookup
from deepmt.infer import inputs
from deepmt.infer.model_file import (check_head_nodes, head_outputs, ntypes_of, read_graph_def,
                                     read_metadata)
from deepmt.op import uses_deepmt_ops
from deepmt.utils.tf_compat import get_tf, session_config

#: atoms evaluated per session run unless ``batch_size`` or this variable says otherwise
BATCH_ENV = "DEEPMT_INFER_BATCH_SIZE"
DEFAULT_ATOMS_PER_RUN = 1024


def _atoms_per_run(batch_size: Optional[int]) -> int:
    if batch_size is None:
        value = os.environ.get(BATCH_ENV, "")
        try:
            batch_size = int(value) if value else DEFAULT_ATOMS_PER_RUN
        except ValueError as err:
            raise InputError(f"{BATCH_ENV}={value!r} is not an integer number of atoms.") from err
    if int(batch_size) < 1:
        raise InputError(f"batch_size (atoms per session run) must be >= 1; got {batch_size}.")
    return int(batch_size)


class LoadedModel:
    """A frozen model imported into its own ``tf.Graph`` with one session.

    Parameters
    ----------
    path
        The ``.pb`` file.
    prefix
        Name scope the graph is imported under (tensors are ``<prefix>/<name>:0``).
    """

    def __init__(self, path: str, prefix: str = "load"):
        tf = get_tf()
        graph_def = read_graph_def(path)
        self.metadata = read_metadata(graph_def, path)
        check_head_nodes(graph_def, self.metadata, path)
        if uses_deepmt_ops(graph_def):
            from deepmt import op

            op.load()
        self.path = path
        self.prefix = prefix
        self.outputs = {head: head_outputs(graph_def, head) for head in self.metadata["heads"]}
        self.graph = tf.Graph()
        with self.graph.as_default():
            try:
                tf.import_graph_def(graph_def, name=prefix)
            except (ValueError, tf.errors.OpError) as err:
                raise ModelFileError(
                    f"model file {path!r} cannot be imported into TensorFlow: "
                    f"{str(err).splitlines()[0]}"
                ) from err
        self.session = tf.Session(graph=self.graph, config=session_config())

    def tensor(self, name: str):
        """The first output of node ``name`` (relative to the prefix)."""
        return self.graph.get_tensor_by_name(keys.tensor_name(f"{self.prefix}/{name}"))

    def has_node(self, name: str) -> bool:
        try:
            self.graph.get_operation_by_name(f"{self.prefix}/{name}")
        except KeyError:
            return False
        return True


class DeepEval:
    """Loader of a frozen deepmt model; base of the per-head evaluators.

    Parameters
    ----------
    model
        Path of a frozen ``.pb``, or another :class:`DeepEval` whose graph and
        session are shared.
    load_prefix
        Name scope the graph is imported under.
    batch_size
        Atoms per session run (frames are split into chunks of at most this
        many atoms, at least one frame each); default: the shared evaluator's,
        else the environment variable ``DEEPMT_INFER_BATCH_SIZE``, else 1024.

    Raises
    ------
    ModelFileError
        The file is missing, corrupt, or not a deepmt model.
    OpLoadError
        The model needs deepmt's op library and it cannot be loaded.
    """

    def __init__(self, model, *, load_prefix: str = "load", batch_size: Optional[int] = None):
        if isinstance(model, DeepEval):
            self._model = model._model
            if batch_size is None:
                batch_size = model._atoms_per_run
        elif isinstance(model, (str, os.PathLike)):
            self._model = LoadedModel(os.fspath(model), load_prefix)
        else:
            raise InputError(
                f"model must be the path of a frozen .pb or a deepmt evaluator; got {type(model)}."
            )
        self._atoms_per_run = _atoms_per_run(batch_size)

    # --- model description -------------------------------------------------
    @property
    def model_file(self) -> str:
        return self._model.path

    def get_heads(self) -> List[str]:
        """Head names in the order of the file."""
        return list(self._model.metadata["heads"])

    def get_head_info(self, head: Optional[str] = None) -> Dict:
        """``{name: {"type", "sel_type", "output_dim", "dim_fparam", "dim_aparam"}}``.

        With ``head``, only that head's dict (name matched like everywhere else).
        """
        heads = self._model.metadata["heads"]
        if head is None:
            return copy.deepcopy(heads)
        name = head_lookup.resolve_head(heads, head, tuple(keys.HEAD_OUTPUTS), None,
                                        "get_head_info", self.model_file)
        return copy.deepcopy(heads[name])

    def get_default_head(self) -> Optional[str]:
        return self._model.metadata.get("default_head")

    def get_type_map(self) -> List[str]:
        """Element names of the type ids (empty when trained on raw type ids)."""
        return list(self._model.metadata["type_map"] or [])

    def get_ntypes(self) -> int:
        return ntypes_of(self._model.metadata)

    def get_rcut(self) -> float:
        return float(self._model.metadata["rcut"])

    def get_sel(self) -> List[int]:
        return [int(s) for s in self._model.metadata["sel"]]

    def get_descriptor(self) -> Dict:
        """The descriptor's description stored in the metadata."""
        return copy.deepcopy(self._model.metadata.get("descriptor", {}))

    def get_metadata(self) -> Dict:
        return copy.deepcopy(self._model.metadata)

    def close(self) -> None:
        """Close the session (shared by every evaluator built on this one)."""
        self._model.session.close()

    def eval_heads(self, coords, cells, atom_types, heads=None, atomic=False,
                   fparam=None, aparam=None) -> Dict:
        """Evaluate several heads in one session run; see :func:`deepmt.infer.eval_heads`."""
        from deepmt.infer.multi_head import eval_heads

        return eval_heads(self, coords, cells, atom_types, heads=heads, atomic=atomic,
                          fparam=fparam, aparam=aparam)

    def eval_descriptor(self, coords, cells, atom_types) -> np.ndarray:
        """The shared descriptor of every atom.

        Parameters
        ----------
        coords, cells, atom_types
            As for :meth:`deepmt.infer.DeepPot.eval`.

        Returns
        -------
        numpy.ndarray
            ``nf x nat x dim_descrpt``, atoms in the order of ``atom_types``.
        """
        if not self._model.has_node(keys.O_DESCRIPTOR):
            raise ModelFileError(f"model {self.model_file!r} has no {keys.O_DESCRIPTOR} node.")
        frames = self._prepare(coords, cells, atom_types)
        raw = self._run(frames, {keys.O_DESCRIPTOR: keys.O_DESCRIPTOR}, {})
        values = raw[keys.O_DESCRIPTOR].reshape(frames.nframes, frames.natoms, -1)
        return frames.unsort_atoms(values)

    # --- helpers for the evaluators ---------------------------------------
    def _resolve(self, head: Optional[str], kinds, who: str) -> str:
        meta = self._model.metadata
        return head_lookup.resolve_head(meta["heads"], head, kinds, meta.get("default_head"),
                                        who, repr(self.model_file))

    def _prepare(self, coords, cells, atom_types) -> inputs.Frames:
        return inputs.prepare_frames(coords, cells, atom_types, self.get_ntypes(),
                                     self.get_type_map())

    def _run(self, frames: inputs.Frames, fetches: Mapping[object, str],
             feeds: Mapping[str, np.ndarray]) -> Dict:
        """Run ``fetches`` (key -> node name) over all frames, chunk by chunk.

        Returns ``{key: array}`` with the frame axis first, chunks concatenated.
        """
        tf = get_tf()
        model = self._model
        tensors = {key: model.tensor(name) for key, name in fetches.items()}
        per_frame = {model.tensor(keys.T_COORD): frames.coord, model.tensor(keys.T_BOX): frames.box}
        per_frame.update({model.tensor(name): value for name, value in feeds.items()})
        t_type = model.tensor(keys.T_TYPE)
        fixed = {model.tensor(keys.T_NATOMS): frames.natoms_vec,
                 model.tensor(keys.T_MESH): frames.mesh}
        step = max(1, self._atoms_per_run // frames.natoms)
        parts: Dict[object, list] = {key: [] for key in fetches}
        for start in range(0, frames.nframes, step):
            chunk = slice(start, start + step)
            nchunk = len(range(frames.nframes)[chunk])
            feed = {t_type: np.tile(frames.atype, nchunk), **fixed}
            for tensor, value in per_frame.items():
                feed[tensor] = value[chunk].reshape(-1).astype(tensor.dtype.as_numpy_dtype)
            try:
                out = model.session.run(tensors, feed_dict=feed)
            except tf.errors.InvalidArgumentError as err:
                raise InputError(
                    f"model {self.model_file!r} rejected the input of frames "
                    f"{start}..{start + nchunk - 1}: {err.message.splitlines()[0]}"
                ) from err
            for key, value in out.items():
                parts[key].append(np.asarray(value).reshape(nchunk, -1))
        return {key: np.concatenate(value, axis=0) for key, value in parts.items()}


class DeepHead(DeepEval):
    """Base of the evaluators of one head of a kind in :attr:`kinds`.

    Parameters
    ----------
    model
        Path of a frozen ``.pb`` or another evaluator (shares its session).
    head
        Head name; may be left out when the file has a default head of an
        accepted kind or exactly one such head.  Matched exactly, then
        case-insensitively (``"default"`` means the default head).
    load_prefix, batch_size
        See :class:`DeepEval`.

    Raises
    ------
    HeadError
        Unknown head, a head of another kind, or an ambiguous omission.
    """

    kinds: Tuple[str, ...] = ()

    def __init__(self, model, head: Optional[str] = None, *, load_prefix: str = "load",
                 batch_size: Optional[int] = None):
        super().__init__(model, load_prefix=load_prefix, batch_size=batch_size)
        self.head = self._resolve(head, self.kinds, type(self).__name__)

    @property
    def _info(self) -> Dict:
        """The head's metadata entry (not a copy)."""
        return self._model.metadata["heads"][self.head]

    def get_dim_fparam(self) -> int:
        """Frame parameters per frame the head needs (0: none)."""
        return int(self._info.get("dim_fparam", 0))

    def get_dim_aparam(self) -> int:
        """Atomic parameters per atom the head needs (0: none)."""
        return int(self._info.get("dim_aparam", 0))

    def _param_feeds(self, frames: inputs.Frames, fparam, aparam) -> Dict:
        """Per-frame feeds of the head's fparam/aparam placeholders (``nf x ...``)."""
        feeds = {}
        for key, dim, given, prepare in (
            (keys.T_FPARAM, self.get_dim_fparam(), fparam, inputs.frame_param),
            (keys.T_APARAM, self.get_dim_aparam(), aparam, inputs.atom_param),
        ):
            if dim:
                feeds[keys.head_node(self.head, key)] = prepare(given, frames, dim, self.head)
            elif given is not None:
                raise InputError(f"head {self.head!r} takes no {key[2:]} (dim_{key[2:]} = 0), "
                                 "but one was given.")
        return feeds

    def _evaluate(self, coords, cells, atom_types, fparam, aparam,
                  fetches: Mapping[object, str]) -> Tuple[inputs.Frames, Dict]:
        """Prepare the frames and run ``fetches`` (key -> node name) on them.

        Returns the frames and ``{key: nf x ... array}``.
        """
        frames = self._prepare(coords, cells, atom_types)
        feeds = self._param_feeds(frames, fparam, aparam)
        return frames, self._run(frames, fetches, feeds)
