"""Reading JSON and YAML inputs; parse errors name the file, line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepmt.errors import ConfigError
from deepmt.train.config import load_input, normalize

DATA = Path(__file__).parent / "data"


def _load_error(path) -> str:
    with pytest.raises(ConfigError) as info:
        load_input(path)
    return str(info.value)


def test_yaml_example_equals_json_example(reg):
    from_json = load_input(DATA / "water_se_e2_a.json")
    from_yaml = load_input(str(DATA / "water_se_e2_a.yaml"))
    assert from_yaml["learning_rate"]["stop_lr"] == 3.51e-8
    assert normalize(from_yaml, registries=reg) == normalize(from_json, registries=reg)


def test_yml_extension_is_yaml(tmp_path):
    path = tmp_path / "in.yml"
    path.write_text("model: {}\ntraining: {numb_steps: 3}\n")
    assert load_input(path) == {"model": {}, "training": {"numb_steps": 3}}


def test_json_parse_error_gives_line_and_column(tmp_path):
    path = tmp_path / "input.json"
    path.write_text('{\n  "model": {},\n  "training": {"numb_steps": 10,}\n}\n')
    msg = _load_error(path)
    assert str(path) in msg and "line 3" in msg and "column" in msg


def test_yaml_parse_error_gives_line_and_column(tmp_path):
    path = tmp_path / "input.yaml"
    path.write_text("model:\n  descriptor: {type: se_e2_a\ntraining:\n  numb_steps: 1\n")
    msg = _load_error(path)
    assert str(path) in msg and "line" in msg and "column" in msg


def test_duplicate_json_key_is_an_error(tmp_path):
    path = tmp_path / "input.json"
    path.write_text('{"training": {"numb_steps": 1, "numb_steps": 2}}')
    msg = _load_error(path)
    assert "duplicate key 'numb_steps'" in msg and str(path) in msg


def test_missing_file_and_non_mapping(tmp_path):
    assert "no-such.json" in _load_error(tmp_path / "no-such.json")
    path = tmp_path / "list.json"
    path.write_text("[1, 2]")
    msg = _load_error(path)
    assert "list.json" in msg and "mapping" in msg
    path = tmp_path / "empty.yaml"
    path.write_text("")
    assert "empty.yaml" in _load_error(path)


def test_config_modules_do_not_import_tensorflow():
    import subprocess
    import sys

    code = ("import sys, deepmt.train.config, deepmt.train.config_doc, "
            "deepmt.entrypoints.doc; print('tensorflow' in sys.modules)")
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-c", code], capture_output=True,
                            text=True, cwd=root, timeout=120)
    assert result.stdout.strip() == "False", result.stderr
