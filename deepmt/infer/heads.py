"""Choosing a head of a frozen model by name and kind.

A frozen deepmt file lists its heads in the metadata with their kind
(``ener``, ``dipole``, ``polar``).  An evaluator class accepts only heads of
its kind; the user may leave the head out when the choice is unambiguous.
"""

from __future__ import annotations

import difflib
from typing import Mapping, Optional, Sequence

from deepmt import keys
from deepmt.errors import HeadError

#: the head name that always means "the file's default head"
DEFAULT_ALIAS = keys.DEFAULT_HEAD_ALIAS


def _match_name(requested: str, heads: Mapping[str, Mapping], default: Optional[str],
                source: str) -> str:
    """Exact name, then the ``default`` alias, then a case-insensitive match."""
    if requested not in heads and requested.lower() == DEFAULT_ALIAS and default in heads:
        return default
    name = keys.match_head(requested, heads)
    if name is not None:
        return name
    hint = difflib.get_close_matches(requested, list(heads), n=1)
    extra = f" Did you mean {hint[0]!r}?" if hint else ""
    raise HeadError(
        f"model {source} has no head {requested!r}; its heads are: "
        f"{keys.describe_heads(heads)}.{extra}"
    )


def _wrong_kind(name: str, heads: Mapping[str, Mapping], kinds: Sequence[str], who: str,
                source: str) -> HeadError:
    fitting = [h for h, info in heads.items() if info["type"] in kinds]
    wanted = " or ".join(kinds)
    return HeadError(
        f"head {name!r} of model {source} is a {heads[name]['type']} head, but {who} "
        f"evaluates {wanted} heads ({', '.join(fitting) or 'the file has none'}); "
        f"its heads are: {keys.describe_heads(heads)}. Use DeepPotential(model, head={name!r}) "
        "to get the evaluator matching a head's kind."
    )


def resolve_head(
    heads: Mapping[str, Mapping],
    requested: Optional[str],
    kinds: Sequence[str],
    default: Optional[str],
    who: str,
    source: str,
) -> str:
    """Return the name of the head to evaluate.

    Parameters
    ----------
    heads
        ``{name: info}`` from the metadata, ``info["type"]`` is the kind.
    requested
        The head asked for, or ``None``.
    kinds
        Kinds the evaluator accepts.
    default
        The file's default head (may be ``None``).
    who
        Evaluator name for messages (``"DeepPot"``).
    source
        Model file name for messages.

    Raises
    ------
    HeadError
        Unknown head, a head of the wrong kind, or an ambiguous omission.
    """
    if requested is not None:
        name = _match_name(str(requested), heads, default, source)
        if heads[name]["type"] not in kinds:
            raise _wrong_kind(name, heads, kinds, who, source)
        return name
    fitting = [h for h, info in heads.items() if info["type"] in kinds]
    if default in fitting:
        return default
    if len(fitting) == 1:
        return fitting[0]
    wanted = " or ".join(kinds)
    if not fitting:
        raise HeadError(
            f"model {source} has no {wanted} head for {who}; its heads are: "
            f"{keys.describe_heads(heads)}."
        )
    raise HeadError(
        f"model {source} has several {wanted} heads ({', '.join(fitting)}) and none is "
        f"the default head; pass head=... to {who} to choose one. Its heads are: "
        f"{keys.describe_heads(heads)}."
    )
