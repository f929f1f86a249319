"""ASE calculator for an energy head of a frozen deepmt model (needs ``ase``)."""

from __future__ import annotations

from typing import Dict, Optional

import numpy as np
from ase.calculators.calculator import (Calculator, PropertyNotImplementedError,
                                        all_changes)
from ase.stress import full_3x3_to_voigt_6_stress

from deepmt.errors import InputError
from deepmt.infer.deep_pot import DeepPot


class DeepmtCalculator(Calculator):
    """ASE calculator evaluating one energy head.

    Parameters
    ----------
    model
        Path of a frozen ``.pb``, or a :class:`~deepmt.infer.DeepPot` /
        other evaluator to share.
    head
        Energy head (default: the file's default or only energy head).
    type_dict
        ``{chemical symbol: model type id}``; default: the model's type map.
    fparam, aparam
        Frame/atomic parameters for heads that take them.
    label
        ASE label.

    Notes
    -----
    Properties: ``energy``, ``free_energy`` (eV), ``forces`` (eV/Å),
    ``virial`` (3 x 3, eV), and ``stress`` (Voigt, eV/Å^3, ASE sign) when
    any direction is periodic (the whole cell is then treated as periodic).
    """

    implemented_properties = ["energy", "free_energy", "forces", "virial", "stress"]

    def __init__(self, model, head: Optional[str] = None,
                 type_dict: Optional[Dict[str, int]] = None, fparam=None, aparam=None,
                 label: str = "deepmt", **kwargs):
        Calculator.__init__(self, label=label, **kwargs)
        if isinstance(model, DeepPot) and head in (None, model.head):
            self.dp = model
        else:
            self.dp = DeepPot(model, head=head)
        if type_dict is None and not self.dp.get_type_map():
            raise InputError("the model has no type map (it was trained on raw type ids); "
                             "pass type_dict={symbol: type id}.")
        self.type_dict = dict(type_dict) if type_dict is not None else {
            name: index for index, name in enumerate(self.dp.get_type_map())}
        self.fparam = fparam
        self.aparam = aparam

    def _types(self, atoms) -> np.ndarray:
        symbols = atoms.get_chemical_symbols()
        unknown = sorted(set(symbols) - set(self.type_dict))
        if unknown:
            raise InputError(
                f"element(s) {unknown} are not in the calculator's type_dict "
                f"{self.type_dict} (model type map {self.dp.get_type_map()}); pass type_dict."
            )
        return np.array([self.type_dict[s] for s in symbols], dtype=np.int64)

    def calculate(self, atoms=None, properties=("energy", "forces"),
                  system_changes=all_changes):
        """Evaluate the head on ``atoms`` and fill ``self.results``."""
        Calculator.calculate(self, atoms, properties, system_changes)
        periodic = bool(np.any(self.atoms.get_pbc()))
        if "stress" in properties and not periodic:
            raise PropertyNotImplementedError("stress needs a periodic cell")
        coord = self.atoms.get_positions().reshape(1, -1)
        cell = self.atoms.get_cell().array.reshape(1, 9) if periodic else None
        energy, forces, virial = self.dp.eval(coord, cell, self._types(self.atoms),
                                              fparam=self.fparam, aparam=self.aparam)
        self.results["energy"] = float(energy[0, 0])
        self.results["free_energy"] = float(energy[0, 0])
        self.results["forces"] = forces[0]
        self.results["virial"] = virial[0].reshape(3, 3)
        if periodic:
            volume = self.atoms.get_volume()
            sym = 0.5 * (self.results["virial"] + self.results["virial"].T)
            self.results["stress"] = full_3x3_to_voigt_6_stress(-sym / volume)
