"""The DeePMD-kit examples against the schema of the real deepmt components."""

from __future__ import annotations

import pytest

from deepmt.errors import ConfigError
from deepmt.train.config import make_run_spec, normalize
from deepmt.train.config_schema import default_registries


@pytest.fixture
def real():
    try:
        return default_registries()
    except ImportError as err:  # pragma: no cover - until every component exists
        pytest.skip(f"a component registry is not importable yet: {err}")


def test_single_example(single, real):
    out = normalize(single, registries=real)
    assert normalize(out, registries=real) == out
    assert out["model"]["descriptor"]["type"] == "se_e2_a"
    assert out["loss"]["type"] == "ener"
    spec = make_run_spec(out)
    assert list(spec.heads) == ["main"] and spec.heads["main"].fitting["type"] == "ener"


def test_multi_example(multi, real):
    out = normalize(multi, registries=real)
    assert normalize(out, registries=real) == out
    assert out["training"]["fitting_weight"] == pytest.approx(
        {"water_dipole": 1 / 3, "water_ener": 2 / 3})
    spec = make_run_spec(out)
    assert [h.fitting["type"] for h in spec.heads.values()] == ["dipole", "ener"]


def test_default_tensor_loss_is_valid_for_the_real_loss(multi, real):
    del multi["loss_dict"]["water_dipole"]
    out = normalize(multi, registries=real)
    assert out["loss_dict"]["water_dipole"] == {"type": "tensor", "pref": 1.0,
                                                "pref_atomic": 1.0}


def test_real_kind_mismatch_is_rejected(multi, real):
    multi["loss_dict"]["water_dipole"] = {"type": "ener"}
    with pytest.raises(ConfigError, match="loss_dict/water_dipole/type"):
        normalize(multi, registries=real)
