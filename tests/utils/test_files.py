"""atomic_write: all or nothing."""

import os

import pytest

from deepmt.utils.files import atomic_write


def test_writes_text_and_bytes_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "out.txt"
    atomic_write(str(path), "héllo\n")
    assert path.read_text(encoding="utf-8") == "héllo\n"
    atomic_write(str(path), b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "out.txt"
    path.write_text("old")

    def broken(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError):
        atomic_write(str(path), "new")
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.txt"]
