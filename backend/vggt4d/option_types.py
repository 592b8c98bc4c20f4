"""Strict checking of JSON option objects against an options dataclass's field types.

The job server gets options as JSON: ``"frames": 5``, ``"seed": "abc"``, ``"refine": "yes"``
or ``"max_frames": true`` must be refused before any work, naming the option, rather than fail
deep inside a run (after the model ran) or be taken for something else. The field annotations
are the one statement of each option's type; this module reads them.
"""

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from typing import Any

from vggt4d.errors import InputError


def options_from_json(cls: type, values: object, what: str) -> dict[str, Any]:
    """Constructor arguments for the dataclass ``cls`` from the JSON object ``values``.

    Each value must match its field's annotation: ``bool`` only true/false, ``int`` a whole
    number (not a bool), ``float`` any finite number, ``str`` a string, ``tuple[int, ...]`` a
    list of whole numbers, ``X | None`` also null; a dataclass field takes an object and is
    built with that class's ``from_dict``. Raises InputError on unknown keys or a wrong type.
    """
    if not isinstance(values, Mapping):
        raise InputError(f"{what} must be a JSON object, got {_show(values)}.")
    known = [item.name for item in dataclasses.fields(cls) if item.init]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise InputError(f"Unknown {what} {unknown}; known: {sorted(known)}.")
    hints = typing.get_type_hints(cls)
    return {name: _convert(name, value, hints[name]) for name, value in values.items()}


def check_values(
    options: object,
    *,
    choices: Mapping[str, tuple[Any, ...]] | None = None,
    at_least: Mapping[str, float] | None = None,
    above: Mapping[str, float] | None = None,
) -> None:
    """Raise InputError naming the first option of ``options`` (a dataclass) that is not one
    of its ``choices``, below its ``at_least`` bound, or not above its ``above`` bound."""
    for name, allowed in (choices or {}).items():
        value = getattr(options, name)
        if value not in allowed:
            raise InputError(f"Option {name} must be one of {allowed}, got {value!r}.")
    for name, bound in (at_least or {}).items():
        value = getattr(options, name)
        if not value >= bound:
            raise InputError(f"Option {name} must be {bound} or more, got {value!r}.")
    for name, bound in (above or {}).items():
        value = getattr(options, name)
        if not value > bound:
            raise InputError(f"Option {name} must be more than {bound}, got {value!r}.")


def _convert(name: str, value: object, hint: Any) -> Any:
    if typing.get_origin(hint) in (types.UnionType, typing.Union):
        choices = [choice for choice in typing.get_args(hint) if choice is not type(None)]
        if value is None and len(choices) < len(typing.get_args(hint)):
            return None
        for choice in choices if value is not None else ():
            if dataclasses.is_dataclass(choice) and isinstance(value, Mapping):
                return choice.from_dict(value)  # its own sentence names the inner option
            try:
                return _convert(name, value, choice)
            except InputError:
                pass  # named below with the whole union
    elif dataclasses.is_dataclass(hint):
        return hint.from_dict(value)
    elif typing.get_origin(hint) is tuple:
        item = typing.get_args(hint)[0]
        if isinstance(value, list | tuple) and all(_matches(element, item) for element in value):
            return tuple(value)
    elif _matches(value, hint):
        return float(value) if hint is float else value
    raise InputError(f"Option {name} must be {_describe(hint)}, got {_show(value)}.")


def _matches(value: object, hint: Any) -> bool:
    if isinstance(value, bool) or hint is bool:
        return hint is bool and isinstance(value, bool)
    if hint is int:
        return isinstance(value, int)
    if hint is float:
        return isinstance(value, int | float) and math.isfinite(value)
    return hint is str and isinstance(value, str)


def _describe(hint: Any) -> str:
    if typing.get_origin(hint) in (types.UnionType, typing.Union):
        choices = [choice for choice in typing.get_args(hint) if choice is not type(None)]
        optional = ["null"] if len(choices) < len(typing.get_args(hint)) else []
        return " or ".join([*(_describe(choice) for choice in choices), *optional])
    if typing.get_origin(hint) is tuple:
        return f"a list of {_describe(typing.get_args(hint)[0]).removeprefix('a ')}s"
    names = {bool: "true or false", int: "a whole number", float: "a number", str: "a string"}
    return names.get(hint, "an object")


def _show(value: object) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}"
