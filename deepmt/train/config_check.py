"""Schema walker: alias rewriting, defaults and strict checking of a config.

dargs supplies the schema objects (:class:`dargs.Argument`,
:class:`dargs.Variant`); this module walks them itself instead of calling
``Argument.normalize``/``check_value`` so that every error is a
:class:`~deepmt.errors.ConfigError` naming the *full* key path, including the
entries of dict-of-head sections (``loss_dict/water_dipole/pref_atomic``),
which dargs reports only relative to the detached entry.

Keys are written as paths joined by ``/``; the root has the empty path.
"""

from __future__ import annotations

import copy
import difflib
import math
import typing
from typing import Any, Dict, Iterable, List, Optional

import typeguard
from dargs import Argument, Variant

from deepmt.errors import ConfigError

_NO_DEFAULT = Argument("_", int).default  # dargs' "no default" sentinel

#: keys of DeePMD-kit inputs that deepmt does not implement, with the reason
UNSUPPORTED = {
    "model/type_embedding": "deepmt implements only type-indexed descriptors "
    "(se_e2_a and friends), which need no type embedding; remove the "
    "`model/type_embedding` section",
    "model/type": "deepmt infers the model from `model/fitting_net` (single "
    "task) or `model/fitting_net_dict` (multi task); remove `model/type`",
    "model/use_srtab": "short-range pair tables are not implemented in deepmt",
    "model/modifier": "model modifiers (DPLR) are not implemented in deepmt",
    "model/spin": "spin models are not implemented in deepmt",
    "model/compress": "model compression is not implemented in deepmt",
    "training/mixed_precision": "mixed-precision training is not implemented "
    "in deepmt",
    "training/numb_test": "`numb_test` was removed in DeePMD-kit v2; use "
    "`validation_data/numb_btch`",
    "nvnmd": "NVNMD hardware options are not implemented in deepmt",
}


def join(path: Iterable[str]) -> str:
    """Join key names into a ``/`` path (``model/descriptor/rcut``)."""
    return "/".join(path)


def where(path: List[str]) -> str:
    """Human phrase for a dict location: "`model/descriptor`" or "the top level"."""
    return f"`{join(path)}`" if path else "the top level of the input"


def strip_comments(value: Any) -> Any:
    """Copy of ``value`` without dict keys starting with ``_``, at every level.

    Lists are walked too, so comments inside a list of dicts are removed.
    """
    if isinstance(value, dict):
        return {
            key: strip_comments(item)
            for key, item in value.items()
            if not (isinstance(key, str) and key.startswith("_"))
        }
    if isinstance(value, list):
        return [strip_comments(item) for item in value]
    return value


def type_name(dtype: Any) -> str:
    """Readable name of a dargs dtype entry (``list[int]``, ``null``)."""
    if dtype is None or dtype is type(None):
        return "null"
    origin, args = typing.get_origin(dtype), typing.get_args(dtype)
    if origin is typing.Union:
        return " | ".join(type_name(a) for a in args)
    if origin is not None:
        inner = ", ".join(type_name(a) for a in args)
        return f"{type_name(origin)}[{inner}]" if args else type_name(origin)
    return getattr(dtype, "__name__", str(dtype))


def describe(value: Any) -> str:
    """Short description of a found value: its JSON-ish type and its text."""
    kind = type_name(type(value))
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{kind} {text}"


def _typeguard_ok(value: Any, dtype: Any) -> bool:
    try:
        typeguard.check_type(
            value, dtype,
            collection_check_strategy=typeguard.CollectionCheckStrategy.ALL_ITEMS,
        )
    except typeguard.TypeCheckError:
        return False
    return True


def _matches_one(value: Any, dtype: Any) -> bool:
    """``value`` is of ``dtype``; unlike typeguard, a bool is not a number."""
    if dtype is Any or dtype is object:
        return True
    if isinstance(value, bool):
        return dtype is bool or (
            typing.get_origin(dtype) is typing.Union
            and any(_matches_one(value, a) for a in typing.get_args(dtype)))
    origin, args = typing.get_origin(dtype), typing.get_args(dtype)
    if origin is typing.Union:
        return any(_matches_one(value, a) for a in args)
    if origin is list and args and isinstance(value, list):
        return all(_matches_one(item, args[0]) for item in value)
    if origin is dict and len(args) == 2 and isinstance(value, dict):
        return all(_matches_one(k, args[0]) and _matches_one(v, args[1])
                   for k, v in value.items())
    return _typeguard_ok(value, dtype)


def _matches(value: Any, dtypes: tuple) -> bool:
    return any(_matches_one(value, dt) for dt in dtypes)


def _as_float(value: Any, dtypes: tuple) -> Any:
    """An int given where only floats are allowed becomes a float (6 -> 6.0)."""
    if isinstance(value, int) and not isinstance(value, bool):
        if float in dtypes and int not in dtypes:
            return float(value)
    elif isinstance(value, list) and value:
        if list[float] in dtypes and list[int] not in dtypes:
            return [_as_float(item, (float,)) for item in value]
    return value


def check_type(arg: Argument, value: Any, path: List[str]) -> None:
    """Raise ConfigError unless ``value`` has one of ``arg``'s types."""
    if _matches(value, tuple(arg.dtype)):
        return
    expected = " or ".join(sorted(type_name(dt) for dt in arg.dtype))
    raise ConfigError(
        f"key `{join(path)}` has the wrong type: expected {expected}, "
        f"found {describe(value)}.{_text_number_hint(value, arg.dtype)}"
    )


def _text_number_hint(value: Any, dtypes) -> str:
    """Hint for a number written as text where a number is expected."""
    if not isinstance(value, str) or not any(dt in (int, float) for dt in dtypes):
        return ""
    try:
        float(value)
    except ValueError:
        return ""
    hint = " The number is written as text: remove the quotes."
    if "e" in value.lower():
        hint += " (YAML reads `1e-3` as text; write `1.0e-3`.)"
    return hint


def _check_extra(arg: Argument, value: Any, path: List[str]) -> None:
    if arg.extra_check is None or arg.extra_check(value):
        return
    reason = arg.extra_check_errmsg or "it fails the value check"
    raise ConfigError(
        f"key `{join(path)}` has an invalid value {value!r}: {reason}."
    )


def _resolve_tag(variant: Variant, value: dict, path: List[str]) -> str:
    """Canonical choice of ``variant`` for the dict ``value`` (alias resolved)."""
    flag = variant.flag_name
    known = list(variant.choice_dict)
    if flag not in value:
        if variant.optional:
            return variant.default_tag
        raise ConfigError(
            f"key `{join(path + [flag])}` is required to choose the kind of "
            f"{where(path)}; possible values: {', '.join(known)}."
        )
    tag = value[flag]
    if not isinstance(tag, str):
        raise ConfigError(
            f"key `{join(path + [flag])}` has the wrong type: expected str "
            f"(one of {', '.join(known)}), found {describe(tag)}."
        )
    if tag in variant.choice_dict:
        return tag
    if tag in variant.choice_alias:
        return variant.choice_alias[tag]
    every = known + list(variant.choice_alias)
    hint = difflib.get_close_matches(tag, every, n=1)
    extra = f" Did you mean `{hint[0]}`?" if hint else ""
    raise ConfigError(
        f"key `{join(path + [flag])}` has an unknown value `{tag}`; possible "
        f"values: {', '.join(known)}.{extra}"
    )


def collect_fields(arg: Argument, value: dict, path: List[str]) -> Dict[str, Argument]:
    """Allowed keys of the dict ``value`` checked against ``arg``.

    Variant flags are resolved (and rewritten to their canonical choice in
    ``value``); the chosen variant's keys are added, recursively.
    """
    fields: Dict[str, Argument] = dict(arg.sub_fields)
    for flag, variant in arg.sub_variants.items():
        tag = _resolve_tag(variant, value, path)
        value[flag] = tag
        fields[flag] = variant.dummy_argument()
        fields.update(collect_fields(variant.choice_dict[tag], value, path))
    return fields


def _rewrite_aliases(fields: Dict[str, Argument], value: dict, path: List[str]) -> None:
    for name, field in fields.items():
        for alias in field.alias:
            if alias not in value:
                continue
            if name in value:
                raise ConfigError(
                    f"keys `{join(path + [name])}` and `{join(path + [alias])}` "
                    f"are the same setting (`{alias}` is an alias of "
                    f"`{name}`); give only one of them."
                )
            value[name] = value.pop(alias)


def _reject_unknown(fields: Dict[str, Argument], value: dict, path: List[str]) -> None:
    for key in value:
        if key in fields:
            continue
        full = join(path + [str(key)])
        if full in UNSUPPORTED:
            raise ConfigError(f"key `{full}` is not supported: {UNSUPPORTED[full]}.")
        allowed = sorted(fields)
        hint = difflib.get_close_matches(str(key), allowed, n=1)
        extra = f" Did you mean `{hint[0]}`?" if hint else ""
        raise ConfigError(
            f"unknown key `{full}`.{extra} Keys allowed in {where(path)}: "
            f"{', '.join(allowed)}."
        )


def normalize_dict(arg: Argument, value: Any, path: List[str]) -> dict:
    """Normalize one dict checked against the fields/variants of ``arg``.

    Returns a new dict in schema order: aliases rewritten, unknown keys
    rejected, required keys checked, defaults filled, every value checked.
    """
    if not isinstance(value, dict):
        raise ConfigError(
            f"key `{join(path)}` has the wrong type: expected dict, "
            f"found {describe(value)}."
        )
    value = dict(value)
    fields = collect_fields(arg, value, path)
    _rewrite_aliases(fields, value, path)
    _reject_unknown(fields, value, path)
    result = {}
    for name, field in fields.items():
        if name in value:
            result[name] = normalize_value(field, value[name], path + [name])
        elif not field.optional:
            raise ConfigError(
                f"key `{join(path + [name])}` is required but missing."
                + (f" It means: {field.doc}" if field.doc else "")
            )
        elif field.default is not _NO_DEFAULT:
            default = copy.deepcopy(field.default)
            result[name] = normalize_value(field, default, path + [name])
    return result


def normalize_value(arg: Argument, value: Any, path: List[str]) -> Any:
    """Check ``value`` against ``arg`` and normalize its nested dicts."""
    check_type(arg, value, path)
    _check_extra(arg, value, path)
    if not (arg.sub_fields or arg.sub_variants):
        return _as_float(copy.deepcopy(value), tuple(arg.dtype))
    if arg.repeat and isinstance(value, dict):
        return {
            key: normalize_dict(arg, item, path + [str(key)])
            for key, item in value.items()
        }
    if arg.repeat and isinstance(value, list):
        return [normalize_dict(arg, item, path + [str(i)]) for i, item in enumerate(value)]
    if isinstance(value, dict):
        return normalize_dict(arg, value, path)
    return copy.deepcopy(value)  # e.g. null for an optional section


def check_finite(value: Any, path: List[str]) -> None:
    """Reject NaN and infinities anywhere inside ``value``."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"key `{join(path)}` is {value!r}; numbers must be finite.")
    if isinstance(value, dict):
        for key, item in value.items():
            check_finite(item, path + [str(key)])
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_finite(item, path + [str(i)])


def suggest(name: str, choices: Iterable[str]) -> Optional[str]:
    """Closest match of ``name`` among ``choices``, or None."""
    hint = difflib.get_close_matches(name, list(choices), n=1)
    return hint[0] if hint else None
