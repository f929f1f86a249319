"""Energy, force and virial from an energy head of a frozen deepmt model."""

from __future__ import annotations

from typing import Tuple

from deepmt import keys
from deepmt.infer.deep_eval import DeepHead
from deepmt.infer.inputs import Frames


class DeepPot(DeepHead):
    """Evaluator of one energy (``ener``) head.

    Parameters
    ----------
    model
        Path of a frozen ``.pb`` or another evaluator (shares its session).
    head
        Head name; may be left out when the file has a default energy head
        or exactly one energy head.  Matched exactly, then case-insensitively.
    load_prefix, batch_size
        See :class:`~deepmt.infer.deep_eval.DeepEval`.

    Raises
    ------
    HeadError
        Unknown head, a head of another kind, or an ambiguous omission.
    """

    kinds: Tuple[str, ...] = ("ener",)

    def eval(self, coords, cells, atom_types, atomic: bool = False, fparam=None, aparam=None):
        """Energy, forces and virial of every frame.

        Parameters
        ----------
        coords
            ``nf x nat x 3`` (or ``nf x 3nat``) coordinates, Å.
        cells
            ``nf x 9`` cells (rows are cell vectors), Å; ``None``: no PBC.
        atom_types
            ``nat`` type ids (indices into :meth:`get_type_map`), any order.
        atomic
            Also return atomic energies and virials.
        fparam
            ``nf x dim_fparam`` (or ``dim_fparam``), if the head needs it.
        aparam
            ``nf x nat x dim_aparam`` (or ``nat x dim_aparam`` or
            ``dim_aparam``), if the head needs it.

        Returns
        -------
        tuple
            ``energy nf x 1`` (eV), ``force nf x nat x 3`` (eV/Å),
            ``virial nf x 9`` (eV); with ``atomic`` also
            ``atom_energy nf x nat x 1`` and ``atom_virial nf x nat x 9``.
            Atoms are in the order of ``atom_types``.

        Raises
        ------
        InputError
            Wrong shapes, unknown types, missing or unexpected fparam/aparam.
        """
        frames, raw = self._evaluate(coords, cells, atom_types, fparam, aparam,
                                     self._fetches(atomic))
        return self._finish(frames, raw, atomic)

    def _fetches(self, atomic: bool) -> dict:
        names = [keys.O_ENERGY, keys.O_FORCE, keys.O_VIRIAL]
        if atomic:
            names += [keys.O_ATOM_ENERGY, keys.O_ATOM_VIRIAL]
        return {name: keys.head_node(self.head, name) for name in names}

    def _finish(self, frames: Frames, raw: dict, atomic: bool) -> tuple:
        nf, nat = frames.nframes, frames.natoms
        energy = raw[keys.O_ENERGY].reshape(nf, 1)
        # nall == nloc here: no ghost atoms without an external neighbour list
        force = frames.unsort_atoms(raw[keys.O_FORCE].reshape(nf, nat, 3))
        virial = raw[keys.O_VIRIAL].reshape(nf, 9)
        if not atomic:
            return energy, force, virial
        atom_energy = frames.unsort_atoms(raw[keys.O_ATOM_ENERGY].reshape(nf, nat, 1))
        atom_virial = frames.unsort_atoms(raw[keys.O_ATOM_VIRIAL].reshape(nf, nat, 9))
        return energy, force, virial, atom_energy, atom_virial
