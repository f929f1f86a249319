"""Exception hierarchy of deepmt.

Every error a user can trigger derives from :class:`DeepMTError`; the command
line turns it into a one-paragraph message and a non-zero exit status, never
a traceback.
"""


class DeepMTError(Exception):
    """Base class of every error deepmt raises on purpose."""


class ConfigError(DeepMTError, ValueError):
    """The training input is invalid; the message names the key path."""


class DataError(DeepMTError, ValueError):
    """A data system is missing, malformed or inconsistent with the model."""


class OpLoadError(DeepMTError, ImportError):
    """The compiled operator library could not be loaded."""


class ModelFileError(DeepMTError, ValueError):
    """A frozen model or checkpoint cannot be read or is not a deepmt model."""


class HeadError(DeepMTError, KeyError):
    """An unknown head, or a head of the wrong kind, was requested."""

    def __str__(self) -> str:  # KeyError quotes its message; we want plain text
        return str(self.args[0]) if self.args else ""


class InputError(DeepMTError, ValueError):
    """Arrays handed to an inference or op API have the wrong shape or content."""
