"""Fixtures of the config tests: small stand-in components and example inputs.

The stand-ins mimic the real components' schemas (names, aliases, required
keys) so that the schema assembly, the walker and the multi-task rules can be
tested without the real descriptor/fitting/loss code.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dargs import Argument

from deepmt.train.config_schema import Registries
from deepmt.utils.plugin import Registry

DATA = Path(__file__).parent / "data"


def _opt(name, dtype, default, **kw):
    return Argument(name, dtype, optional=True, default=default, **kw)


class FakeSeA:
    """Fake smooth two-body descriptor with angular information."""

    @classmethod
    def args(cls):
        return [
            _opt("sel", [list[int], str], "auto", doc="neighbours per type"),
            _opt("rcut", float, 6.0, doc="cut-off radius"),
            _opt("rcut_smth", float, 0.5, doc="smoothing start"),
            _opt("neuron", list[int], [10, 20, 40], alias=["n_neuron"], doc="widths"),
            _opt("axis_neuron", int, 4, alias=["n_axis_neuron"], doc="M2"),
            _opt("resnet_dt", bool, False, doc="timestep"),
            _opt("seed", [int, None], None, doc="seed"),
        ]


class FakeSeR(FakeSeA):
    """Fake radial-only descriptor."""

    @classmethod
    def args(cls):
        return [a for a in FakeSeA.args() if a.name != "axis_neuron"]


class FakeEner:
    """Fake energy fitting."""

    kind = "ener"

    @classmethod
    def args(cls):
        return [
            _opt("numb_fparam", int, 0, doc="frame parameters"),
            _opt("neuron", list[int], [120, 120, 120], alias=["n_neuron"], doc="widths"),
            _opt("resnet_dt", bool, True, doc="timestep"),
            _opt("seed", [int, None], None, doc="seed"),
        ]


class FakeDipole:
    """Fake dipole fitting."""

    kind = "dipole"

    @classmethod
    def args(cls):
        return [
            _opt("neuron", list[int], [120, 120, 120], alias=["n_neuron"], doc="widths"),
            _opt("resnet_dt", bool, True, doc="timestep"),
            _opt("sel_type", [list[int], int, None], None, alias=["dipole_type"], doc="types"),
            _opt("seed", [int, None], None, doc="seed"),
        ]


class FakePolar(FakeDipole):
    """Fake polarizability fitting."""

    kind = "polar"


class FakeEnerLoss:
    """Fake energy loss."""

    fitting_kinds = ("ener",)

    @classmethod
    def args(cls):
        out = []
        for term, start, limit in (("e", 0.02, 1.0), ("f", 1000.0, 1.0), ("v", 0.0, 0.0)):
            out.append(_opt(f"start_pref_{term}", [float, int], start, doc="start"))
            out.append(_opt(f"limit_pref_{term}", [float, int], limit, doc="limit"))
        return out


class FakeTensorLoss:
    """Fake tensor loss (both prefactors required, as in DeePMD-kit)."""

    fitting_kinds = ("dipole", "polar")

    @classmethod
    def args(cls):
        return [Argument("pref", [float, int], doc="global"),
                Argument("pref_atomic", [float, int], doc="atomic")]


class FakeExpLR:
    """Fake exponential-decay learning rate."""

    @classmethod
    def args(cls):
        return [
            _opt("start_lr", float, 1e-3, doc="first"),
            _opt("stop_lr", float, 1e-8, doc="last"),
            _opt("decay_steps", int, 5000, doc="interval"),
        ]


def make_fake_registries() -> Registries:
    """Fresh registries holding the fake components."""
    desc, fit, loss, lr = (Registry(k) for k in ("descriptor", "fitting", "loss", "lr"))
    desc.register("se_e2_a", alias=("se_a",))(FakeSeA)
    desc.register("se_e2_r", alias=("se_r",))(FakeSeR)
    fit.register("ener")(FakeEner)
    fit.register("dipole")(FakeDipole)
    fit.register("polar")(FakePolar)
    loss.register("ener")(FakeEnerLoss)
    loss.register("tensor")(FakeTensorLoss)
    lr.register("exp")(FakeExpLR)
    return Registries(desc, fit, loss, lr)


@pytest.fixture
def reg() -> Registries:
    return make_fake_registries()


@pytest.fixture
def single() -> dict:
    """DeePMD-kit 2.2.11 examples/water/se_e2_a/input.json (fresh copy)."""
    return json.loads((DATA / "water_se_e2_a.json").read_text())


@pytest.fixture
def multi() -> dict:
    """DeePMD-kit 2.2.11 examples/water_multi_task/ener_dipole/input.json."""
    return json.loads((DATA / "water_multi_ener_dipole.json").read_text())
