"""Config files: TOML + environment secrets, validated with one-line errors naming file and key.

The connector's files use hftbacktest's connector keys (``stream_url``, ``api_url``,
``order_prefix``, ``api_key``, ``secret`` for Binance...), so existing configs work unchanged.
Each exchange package reads its own keys through :class:`ConfigReader`, which names the file and
the key in every error. It lives outside ``connector/`` because the exchange packages, the
collector and the connector all read configs, and the connector imports the exchanges.
``HFTCTL_API_KEY`` / ``HFTCTL_SECRET`` override the file so that secrets need not be written to
disk.

The reader remembers every key it was asked for; :meth:`ConfigReader.check_unknown` then fails
on the keys nobody asked for, so a typo (``cancel_on_stpo``) is an error with a suggestion
instead of a default silently taking its place.
"""

from __future__ import annotations

import difflib
import math
import os
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Mapping

from hftctl.errors import HftctlError
from hftctl.secrets import Secret

ENV_API_KEY = "HFTCTL_API_KEY"
ENV_SECRET = "HFTCTL_SECRET"
_MISSING = object()


class ConfigReader:
    """Typed access to a config table; every failure is one line naming file and key."""

    def __init__(self, data: Mapping[str, Any], source: str, env: Mapping[str, str] | None = None) -> None:
        self.data = data
        self.source = source
        self.env = os.environ if env is None else env
        self.asked: set[str] = set()      # every key a loader asked for, present or not

    def with_defaults(self, defaults: Mapping[str, Any]) -> "ConfigReader":
        """The same file with ``defaults`` for the keys it does not set (a venue's URLs). Keys
        only the defaults hold are known (:meth:`check_unknown` judges what the file says)."""
        r = ConfigReader({**defaults, **self.data}, self.source, self.env)
        r.asked = self.asked | (set(defaults) - set(self.data))
        return r

    def error(self, key: str, what: str) -> HftctlError:
        return HftctlError(f"{self.source}: {what} '{key}'")

    def _get(self, key: str, default: Any) -> Any:
        self.asked.add(key)
        if key in self.data:
            return self.data[key]
        if default is _MISSING:
            raise self.error(key, "missing key")
        return default

    def str(self, key: str, default: Any = _MISSING) -> str:
        v = self._get(key, default)
        if not isinstance(v, str) or (v == "" and default is _MISSING):
            raise self.error(key, "expected a non-empty string for key")
        return v

    def url(self, key: str, schemes: tuple[str, ...], default: Any = _MISSING) -> str:
        v = self.str(key, default)
        if not v.startswith(tuple(s + "://" for s in schemes)):
            raise self.error(key, f"expected a {'/'.join(schemes)} URL for key")
        return v.rstrip("/")

    def number(self, key: str, default: Any = _MISSING, minimum: float | None = None,
               maximum: float | None = None) -> float:
        """A finite number in [minimum, maximum] (TOML's ``inf`` and ``nan`` are refused: every
        comparison with nan is false, so it would pass any range check)."""
        v = self._get(key, default)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise self.error(key, "expected a finite number for key")
        self._in_range(key, v, minimum, maximum, "a number")
        return float(v)

    def int(self, key: str, default: Any = _MISSING, minimum: int | None = None,
            maximum: int | None = None) -> int:
        v = self._get(key, default)
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.error(key, "expected an integer for key")
        self._in_range(key, v, minimum, maximum, "an integer")
        return v

    def _in_range(self, key: str, v: float, minimum: float | None, maximum: float | None, what: str) -> None:
        if minimum is not None and maximum is not None and not minimum <= v <= maximum:
            raise self.error(key, f"expected {what} from {minimum:g} to {maximum:g} for key")
        if minimum is not None and v < minimum:
            raise self.error(key, f"expected {what} >= {minimum:g} for key")
        if maximum is not None and v > maximum:
            raise self.error(key, f"expected {what} <= {maximum:g} for key")

    def one_of(self, key: str, allowed: Iterable[int], default: Any = _MISSING) -> int:
        """An integer from a fixed set the exchange accepts (e.g. depth snapshot sizes)."""
        allowed = tuple(allowed)
        v = self.int(key, default)
        if v not in allowed:
            shown = (f"{allowed[0]}..{allowed[-1]}" if len(allowed) > 12 and allowed == tuple(range(allowed[0], allowed[-1] + 1))
                     else ", ".join(map(str, allowed)))
            raise self.error(key, f"expected one of {shown} for key")
        return v

    def bool(self, key: str, default: Any = _MISSING) -> bool:
        v = self._get(key, default)
        if not isinstance(v, bool):
            raise self.error(key, "expected true or false for key")
        return v

    def choice(self, key: str, choices: tuple[str, ...], default: Any = _MISSING) -> str:
        v = self._get(key, default)
        if v not in choices:
            raise self.error(key, f"expected one of {', '.join(map(repr, choices))} for key")
        return v

    def secret(self, key: str, env_var: str) -> Secret:
        """A credential from ``env_var`` if set, else from the file; never echoed in errors."""
        self.asked.add(key)
        value = self.env.get(env_var) or self.data.get(key)
        if value is None:
            raise HftctlError(f"{self.source}: missing key '{key}' (or set {env_var})")
        if not isinstance(value, str) or not value.strip():
            raise HftctlError(f"{self.source}: expected a non-empty string for key '{key}'")
        if value != value.strip():
            # The testnet guide's "API key invalid" trap: pasted keys with stray whitespace.
            raise HftctlError(f"{self.source}: key '{key}' has leading/trailing whitespace")
        return Secret(value)

    def order_prefix(self, key: str = "order_prefix", max_len: int = 8) -> str:
        v = self.str(key)
        if len(v) > max_len or not all(c.isascii() and (c.isalnum() or c == "_") for c in v):
            raise self.error(key, f"expected 1-{max_len} letters, digits or '_' for key")
        return v

    def check_unknown(self, also_known: Iterable[str] = ()) -> None:
        """Fail on any key no loader asked for (call after every loader has read its keys);
        ``also_known`` are keys that are valid in this file but read elsewhere."""
        known = self.asked | set(also_known)
        for key in self.data:
            if key in known:
                continue
            close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise HftctlError(f"{self.source}: unknown key '{show_key(key)}'{hint}")


def show_key(key: str) -> str:
    """A key as an error message shows it: as written, escaped if it holds control characters
    (a key with a newline must not break the one-line error)."""
    return key if key.isprintable() else repr(key)[1:-1]


def read_toml(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise HftctlError(f"config file not found: {p}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise HftctlError(f"cannot read config {p}: {e.__class__.__name__}: {e}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise HftctlError(f"{p}: malformed TOML: {e}") from None


def open_config(path: str | Path, env: Mapping[str, str] | None = None) -> ConfigReader:
    return ConfigReader(read_toml(path), str(path), env)
