"""The op loader refuses what cannot work and says how to fix it.

A library built against another TensorFlow (the version recorded in
``deepmt.lib._build_info`` at build time) is refused before it is loaded;
a library file that does not exist gives the "not found" message.  Each
test resets the loader's cache so that ``load()`` really runs.
"""

import importlib

import pytest

from deepmt.errors import OpLoadError
from deepmt.op import loader


def _fresh_loader(monkeypatch):
    monkeypatch.setattr(loader, "_MODULE", None)
    monkeypatch.delenv(loader.LIBRARY_ENV, raising=False)


def test_recorded_build_version_is_the_running_one():
    running = importlib.import_module("tensorflow").__version__
    info = loader.build_info()
    assert info is not None, "the install records the TensorFlow it was built against"
    assert info.TF_VERSION == running
    assert loader.load() is not None


def test_library_built_for_another_tensorflow_is_refused(monkeypatch):
    running = importlib.import_module("tensorflow").__version__
    _fresh_loader(monkeypatch)
    # the version CMake wrote into deepmt/lib/_build_info.py when it built the library
    monkeypatch.setattr(loader.build_info(), "TF_VERSION", "2.0.99")
    loaded = []
    monkeypatch.setattr(loader.get_tf(), "load_op_library", lambda path: loaded.append(path))
    with pytest.raises(OpLoadError) as info:
        loader.load()
    message = str(info.value)
    assert "built against TensorFlow 2.0.99" in message
    assert f"TensorFlow {running} is running" in message
    assert "pip install --no-build-isolation -e" in message, "the message must say how to fix it"
    assert not loaded, "a mismatched library must not even be loaded"
    assert loader._MODULE is None, "a refused load is not cached"


def test_missing_library_file_is_named(monkeypatch, tmp_path):
    missing = tmp_path / "nowhere" / loader.LIBRARY_NAME
    _fresh_loader(monkeypatch)
    monkeypatch.setenv(loader.LIBRARY_ENV, str(missing))
    assert loader.library_path() is None
    with pytest.raises(OpLoadError) as info:
        loader.load()
    message = str(info.value)
    assert f"{loader.LIBRARY_NAME} was not found (looked in {missing})" in message
    assert "pip install" in message, "the message must say how to fix it"
