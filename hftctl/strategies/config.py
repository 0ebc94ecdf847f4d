"""TOML strategy configs into typed dataclasses, with one-line errors for every mistake.

A config error must stop a bot before it sends anything, with a message naming the file and key;
a typo'd key is an error too (silently ignoring ``max_postion`` would trade without a limit).
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import typing
from pathlib import Path
from typing import Any, TypeVar

from hftctl.configfile import show_key
from hftctl.errors import HftctlError

T = TypeVar("T")


def read_toml(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        with p.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise HftctlError(f"config file not found: {p}") from None
    except IsADirectoryError:
        raise HftctlError(f"config path is a directory: {p}") from None
    except tomllib.TOMLDecodeError as exc:
        raise HftctlError(f"{p}: malformed TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise HftctlError(f"{p}: cannot read config: {exc}") from None


def build(cls: type[T], values: dict[str, Any], where: str, *, partial: bool = False) -> T:
    """Instantiate dataclass ``cls`` from ``values``, checking names, presence and types.

    With ``partial`` missing keys fall back to the dataclass defaults.
    """
    if not isinstance(values, dict):
        raise HftctlError(f"{where}: expected a table, got {type(values).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise HftctlError(f"{where}: unknown key(s) {', '.join(map(show_key, unknown))}")
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        if name not in values:
            has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
            if not has_default and not partial:
                raise HftctlError(f"{where}: missing key {name}")
            continue
        kwargs[name] = _coerce(values[name], hints[name], f"{where}.{name}")
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise HftctlError(f"{where}: {exc}") from None


def _coerce(v: Any, hint: Any, where: str) -> Any:
    if hint is float:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise HftctlError(f"{where}: expected a number, got {v!r}")
        if not math.isfinite(v):             # TOML has nan and inf literals, flags parse them too
            raise HftctlError(f"{where}: expected a finite number, got {v!r}")
        return float(v)
    if hint is int:
        if isinstance(v, bool) or not isinstance(v, int):
            if isinstance(v, float) and v.is_integer():
                return int(v)
            raise HftctlError(f"{where}: expected an integer, got {v!r}")
        return v
    if hint is str:
        if not isinstance(v, str):
            raise HftctlError(f"{where}: expected a string, got {v!r}")
        return v
    if hint is bool:
        if not isinstance(v, bool):
            raise HftctlError(f"{where}: expected true or false, got {v!r}")
        return v
    return v


def require_positive(where: str, **values: float) -> None:
    for name, v in values.items():
        if not (v > 0 and math.isfinite(v)):
            raise HftctlError(f"{where}: {name} must be positive, got {v}")


def require_non_negative(where: str, **values: float) -> None:
    for name, v in values.items():
        if not (v >= 0 and math.isfinite(v)):
            raise HftctlError(f"{where}: {name} must be >= 0, got {v}")
