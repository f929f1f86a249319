"""Generated input reference: Markdown, JSON, the CLI, and doc/input.md."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from deepmt.entrypoints import doc as doc_cmd
from deepmt.train import config
from deepmt.train.config import gen_doc
from deepmt.train.config_schema import build_schema

ROOT = Path(__file__).resolve().parents[2]


def _every_path(arg, path=()):
    """Key paths of a schema as the Markdown names them (`<head>` for dict entries)."""
    if arg.repeat:
        path = path + ("<head>",)
    for name, sub in arg.sub_fields.items():
        yield "/".join(path + (name,))
        yield from _every_path(sub, path + (name,))
    for variant in arg.sub_variants.values():
        yield "/".join(path + (variant.flag_name,))
        for choice in variant.choice_dict.values():
            yield from _every_path(choice, path)


def test_markdown_mentions_every_component_and_key(reg):
    text = gen_doc("markdown", registries=reg)
    for registry in (reg.descriptor, reg.fitting, reg.loss, reg.learning_rate):
        for name in registry.names():
            assert f"`type` = `{name}`" in text, name
            for alias in registry.aliases(name):
                assert f"`{alias}`" in text
    documented = [p for p in _every_path(build_schema(reg))
                  if not p.startswith(("model/fitting_net_dict/", "loss_dict/",
                                       "learning_rate_dict/", "training/data_dict/<head>/"))]
    assert len(documented) > 60
    for path in documented:
        assert f"`{path}`" in text, path
    assert "`training/numb_steps` (`int`; **required**; alias `stop_batch`)" in text
    assert "`training/validation_data/numb_btch` (`int`; default `1`; alias `numb_batch`)" in text


def test_json_schema_lists_components(reg):
    schema = json.loads(gen_doc("json", registries=reg))
    assert schema["name"] == "input"
    descriptor = schema["sub_fields"]["model"]["sub_fields"]["descriptor"]
    variant = descriptor["sub_variants"]["type"]
    assert list(variant["choice_dict"]) == ["se_e2_a", "se_e2_r"]
    assert variant["choice_alias"] == {"se_a": "se_e2_a", "se_r": "se_e2_r"}


def test_unknown_format_is_an_error(reg):
    from deepmt.errors import ConfigError

    with pytest.raises(ConfigError, match="rst"):
        gen_doc("rst", registries=reg)


def _cli(argv):
    parser = argparse.ArgumentParser()
    doc_cmd.add_parser(parser.add_subparsers(dest="command"))
    return doc_cmd.run(parser.parse_args(["doc-train-input", *argv]))


def test_cli_prints_markdown_and_writes_json(reg, monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(config, "default_registries", lambda: reg)
    assert _cli([]) == 0
    assert capsys.readouterr().out == gen_doc(registries=reg)
    out = tmp_path / "schema.json"
    assert _cli(["--out-type", "json", "-o", str(out)]) == 0
    assert json.loads(out.read_text())["name"] == "input"


def test_cli_reports_unwritable_output(reg, monkeypatch, tmp_path):
    from deepmt.errors import ConfigError

    monkeypatch.setattr(config, "default_registries", lambda: reg)
    with pytest.raises(ConfigError, match="cannot write"):
        _cli(["-o", str(tmp_path / "missing-dir" / "x.md")])


def test_committed_input_reference_is_up_to_date():
    """doc/input.md must equal the reference of the installed components."""
    try:
        text = gen_doc("markdown")
    except ImportError as err:  # pragma: no cover - until every component exists
        pytest.skip(f"a component registry is not importable yet: {err}")
    committed = (ROOT / "doc" / "input.md").read_text(encoding="utf-8")
    assert committed == text, (
        "doc/input.md is out of date: run `python doc/generate_input_doc.py`")


def _script(*argv):
    return subprocess.run(
        [sys.executable, str(ROOT / "doc" / "generate_input_doc.py"), *argv],
        capture_output=True, text=True, timeout=120,
    )


def test_generator_script_writes_and_checks(tmp_path):
    target = tmp_path / "input.md"
    assert _script("--check", "--target", str(target)).returncode == 1  # missing
    written = _script("--target", str(target))
    assert written.returncode == 0, written.stderr
    assert target.read_text().startswith("# Training input reference")
    assert _script("--check", "--target", str(target)).returncode == 0
    target.write_text(target.read_text().replace("numb_steps", "numb_step", 1))
    stale = _script("--check", "--target", str(target))
    assert stale.returncode == 1 and "out of date" in stale.stdout
