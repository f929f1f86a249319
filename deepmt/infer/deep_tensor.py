"""Dipole and polarizability heads of a frozen deepmt model."""

from __future__ import annotations

from typing import List

import numpy as np

from deepmt import keys
from deepmt.errors import ModelFileError
from deepmt.infer.deep_eval import DeepHead
from deepmt.infer.inputs import Frames


class DeepTensor(DeepHead):
    """Evaluator of one tensor head (atomic vectors/tensors of selected types).

    Parameters
    ----------
    model
        Path of a frozen ``.pb`` or another evaluator (shares its session).
    head
        Head name; may be left out when the file has a default head of this
        kind or exactly one head of this kind.
    load_prefix, batch_size
        See :class:`~deepmt.infer.deep_eval.DeepEval`.
    """

    _atomic_node = ""
    _global_node = ""

    @property
    def output_dim(self) -> int:
        """Components per atom: 3 (dipole) or 9 (polarizability)."""
        return int(self._info["output_dim"])

    def get_sel_type(self) -> List[int]:
        """Type ids whose atoms carry an atomic tensor."""
        return [int(t) for t in self._info["sel_type"]]

    def eval(self, coords, cells, atom_types, atomic: bool = True, fparam=None, aparam=None):
        """The tensor of every frame.

        Parameters
        ----------
        coords, cells, atom_types, fparam, aparam
            As for :meth:`deepmt.infer.DeepPot.eval`.
        atomic
            Return the atomic tensors (default) instead of the global one.

        Returns
        -------
        numpy.ndarray
            ``nf x nsel x odim`` atomic tensors of the atoms whose type is in
            :meth:`get_sel_type` (in the order they have in ``atom_types``),
            or ``nf x odim`` global tensors (the sum over atoms).
        """
        frames, raw = self._evaluate(coords, cells, atom_types, fparam, aparam,
                                     self._fetches(atomic))
        return self._finish(frames, raw, atomic)

    def eval_full(self, coords, cells, atom_types, atomic: bool = False, fparam=None,
                  aparam=None):
        """Global tensor with its derivatives.

        Returns
        -------
        tuple
            ``global nf x odim``, ``force nf x odim x nat x 3`` (minus the
            derivative of each global component w.r.t. the coordinates),
            ``virial nf x odim x 9``; with ``atomic`` also
            ``atomic nf x nsel x odim`` and ``atom_virial nf x odim x nat x 9``.
        """
        self._require_derivatives(atomic)
        fetches = self._fetches(False)
        fetches.update({name: keys.head_node(self.head, name)
                        for name in (keys.O_FORCE, keys.O_VIRIAL)})
        if atomic:
            fetches.update(self._fetches(True))
            fetches[keys.O_ATOM_VIRIAL] = keys.head_node(self.head, keys.O_ATOM_VIRIAL)
        frames, raw = self._evaluate(coords, cells, atom_types, fparam, aparam, fetches)
        nf, nat, odim = frames.nframes, frames.natoms, self.output_dim
        result = (
            self._finish(frames, raw, False),
            frames.unsort_atoms(raw[keys.O_FORCE].reshape(nf, odim, nat, 3), axis=2),
            raw[keys.O_VIRIAL].reshape(nf, odim, 9),
        )
        if not atomic:
            return result
        atom_virial = raw[keys.O_ATOM_VIRIAL].reshape(nf, odim, nat, 9)
        return result + (self._finish(frames, raw, True),
                         frames.unsort_atoms(atom_virial, axis=2))

    def _require_derivatives(self, atomic: bool) -> None:
        needed = [keys.O_FORCE, keys.O_VIRIAL] + ([keys.O_ATOM_VIRIAL] if atomic else [])
        missing = [n for n in needed if n not in self._model.outputs[self.head]]
        if missing:
            raise ModelFileError(
                f"head {self.head!r} of model {self.model_file!r} was frozen without "
                f"{', '.join(missing)}, so eval_full is not available; use eval."
            )

    def _fetches(self, atomic: bool) -> dict:
        node = self._atomic_node if atomic else self._global_node
        return {node: keys.head_node(self.head, node)}

    def _finish(self, frames: Frames, raw: dict, atomic: bool) -> np.ndarray:
        odim = self.output_dim
        if not atomic:
            return raw[self._global_node].reshape(frames.nframes, odim)
        order = frames.selected_input_order(self.get_sel_type())
        values = raw[self._atomic_node]
        if values.shape[1] != order.size * odim:
            raise ModelFileError(
                f"head {self.head!r} of model {self.model_file!r} returned "
                f"{values.shape[1] // max(odim, 1)} atomic tensors for {order.size} atoms of "
                f"the selected types {self.get_sel_type()}; its metadata is inconsistent."
            )
        return values.reshape(frames.nframes, order.size, odim)[:, order]


class DeepDipole(DeepTensor):
    """Evaluator of a dipole head: atomic dipoles ``nf x nsel x 3``."""

    kinds = ("dipole",)
    _atomic_node = keys.O_DIPOLE
    _global_node = keys.O_GLOBAL_DIPOLE


class DeepPolar(DeepTensor):
    """Evaluator of a polarizability head: atomic tensors ``nf x nsel x 9``."""

    kinds = ("polar",)
    _atomic_node = keys.O_POLAR
    _global_node = keys.O_GLOBAL_POLAR
