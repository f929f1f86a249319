"""The head-name rule of the input: one rule (``deepmt.keys``) for config and model."""

from __future__ import annotations

import pytest

from deepmt import keys
from deepmt.errors import ConfigError
from deepmt.train.config import normalize


@pytest.mark.parametrize("name", ["default", "Default", "DEFAULT"])
def test_default_is_rejected_with_the_rule(multi, reg, name):
    multi["model"]["fitting_net_dict"][name] = multi["model"]["fitting_net_dict"]["water_ener"]
    with pytest.raises(ConfigError) as info:
        normalize(multi, registries=reg)
    msg = str(info.value)
    assert f"head name {name!r} in `model/fitting_net_dict` is not allowed" in msg
    assert keys.HEAD_NAME_RULE in msg and "may not be 'default'" in msg


@pytest.mark.parametrize("name", ["defaults", "default_pbe", "pbe.default"])
def test_names_containing_default_are_fine(multi, reg, name):
    fittings = multi["model"]["fitting_net_dict"]
    fittings[name] = fittings.pop("water_dipole")
    for section in (multi["loss_dict"], multi["training"]["data_dict"]):
        section[name] = section.pop("water_dipole")
    multi["training"].pop("fitting_weight", None)
    out = normalize(multi, registries=reg)
    assert name in out["model"]["fitting_net_dict"]
