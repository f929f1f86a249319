"""Freezing a training checkpoint into one ``.pb`` holding every head."""

from deepmt.freeze.freezer import find_checkpoint, freeze

__all__ = ["freeze", "find_checkpoint"]
