"""Crash-safe file writing shared by checkpoints, frozen models and logs."""

from __future__ import annotations

import os
import tempfile
from typing import Union


def atomic_write(path: str, data: Union[bytes, str]) -> None:
    """Write ``data`` to ``path`` through a temporary file and ``os.replace``.

    The temporary file lives in the same folder, is flushed to disk before
    the rename and gets the permissions a plain ``open`` would give. A reader
    never sees a half-written file, and a failed write leaves an existing
    file untouched (the temporary file is removed). ``str`` is written as
    UTF-8. Raises ``OSError`` as ``open`` would.
    """
    directory = os.path.dirname(os.path.abspath(path))
    handle, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp",
                                   dir=directory)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data.encode("utf-8") if isinstance(data, str) else data)
            stream.flush()
            os.fsync(stream.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
