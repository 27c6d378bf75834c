"""TOML in and out for the chain's files (config.toml, genesis.toml, organization and node descriptors).

Reading uses stdlib ``tomllib`` and a :class:`Table` wrapper that turns every
problem into a :class:`ConfigError` naming the file, the key and what to fix,
and refuses unknown keys (a typo must not silently become a default).
Writing is tomli-w's (a well-kept writer that round-trips through ``tomllib``);
:func:`dumps` only adds a comment header and refuses what our files never hold
(floats, dates, integers beyond TOML's 64 bits) with one typed error.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import tomli_w

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class ConfigError(ValueError):
    """A config or genesis file is missing, unparsable or has a bad value; the message says how to fix it."""


class TomlWriteError(ValueError):
    """A value outside what our files hold (strings, booleans, 64-bit integers, arrays, tables)."""


# --- writing ----------------------------------------------------------------------------------

def dumps(doc: Mapping[str, Any], *, comment: str = "") -> str:
    """``doc`` as TOML (tomli-w; multi-line strings for PEM blocks), after ``# comment`` lines.

    A TOML reader normalizes a carriage return before a newline inside a multi-line string,
    so a document holding any ``\\r`` is written with single-line strings only.
    """
    carriage_return = _check(doc, "")
    header = "".join(f"# {line}".rstrip() + "\n" for line in comment.splitlines())
    try:
        body = tomli_w.dumps(doc, multiline_strings=not carriage_return)
    except (TypeError, ValueError) as exc:  # pragma: no cover - _check refuses these first
        raise TomlWriteError(str(exc)) from None
    return header + ("\n" if header and body else "") + body


def _check(value: object, where: str) -> bool:
    """Refuse what TOML or our files cannot hold; True if some string holds a carriage return."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise TomlWriteError(f"{where or 'value'}: integer {value} does not fit TOML's 64 bits")
        return False
    if isinstance(value, str):
        if any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
            raise TomlWriteError(f"{where or 'value'}: strings with lone surrogates cannot be written as UTF-8")
        return "\r" in value
    if isinstance(value, Mapping):
        found = False
        for k, v in value.items():
            if not isinstance(k, str):
                raise TomlWriteError(f"{where or 'table'}: keys must be strings, got {k!r}")
            found |= _check(k, where)
            found |= _check(v, f"{where}.{k}" if where else k)
        return found
    if isinstance(value, (list, tuple)):
        return any([_check(v, f"{where}[{i}]") for i, v in enumerate(value)])
    raise TomlWriteError(f"{where or 'value'}: cannot write {type(value).__name__} "
                         "(our files hold strings, booleans, integers, arrays and tables)")


# --- reading ----------------------------------------------------------------------------------

_REQUIRED: Any = object()


def load_toml(path: Path, *, hint: str = "") -> Table:
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file{hint}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    return parse_toml(text, str(path))


def parse_toml(text: str, source: str) -> Table:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    return Table(source, "", data)


class Table:
    """Typed access to one TOML table; each accessor records the key as known."""

    def __init__(self, source: str, prefix: str, data: dict[str, Any]) -> None:
        self.source = source
        self._prefix = prefix
        self._data = data
        self._known: set[str] = set()

    def name(self, key: str) -> str:
        return f"{self._prefix}{key}"

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.source}: {self.name(key)} {message}")

    def has(self, key: str) -> bool:
        return key in self._data

    def _get(self, key: str, default: Any) -> Any:
        self._known.add(key)
        if key in self._data:
            return self._data[key]
        if default is _REQUIRED:
            raise self.error(key, "is missing")
        return default

    def string(self, key: str, default: Any = _REQUIRED, *, choices: Sequence[str] = (),
            pattern: str | None = None, what: str = "") -> str:
        value = self._get(key, default)
        if not isinstance(value, str) or not value:
            raise self.error(key, f"must be a non-empty string, got {value!r}")
        if choices and value not in choices:
            raise self.error(key, f"must be one of {', '.join(choices)}; got {value!r}")
        if pattern and not re.fullmatch(pattern, value):
            raise self.error(key, f"must be {what or 'of the form ' + pattern}; got {value!r}")
        return value

    def integer(self, key: str, default: Any = _REQUIRED, *, lo: int, hi: int) -> int:
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise self.error(key, f"must be an integer {lo}-{hi}, got {value!r}")
        return value

    def strings(self, key: str, default: Any = _REQUIRED) -> tuple[str, ...]:
        value = self._get(key, default)
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise self.error(key, f"must be an array of strings, got {value!r}")
        return tuple(value)

    def path(self, key: str, base: Path, default: Any = _REQUIRED, *, must_exist: bool = True) -> Path:
        resolved = (base / self.string(key, default)).resolve()
        if must_exist and not resolved.exists():
            raise self.error(key, f"names {resolved}, which does not exist")
        return resolved

    def table(self, key: str, *, required: bool = True) -> Table:
        value = self._get(key, _REQUIRED if required else {})
        if not isinstance(value, dict):
            raise self.error(key, "must be a table")
        return Table(self.source, f"{self.name(key)}.", value)

    def tables(self, key: str) -> list[Table]:
        value = self._get(key, _REQUIRED)
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.error(key, f"must be an array of tables ([[{key}]] sections)")
        return [Table(self.source, f"{self.name(key)}[{i}].", v) for i, v in enumerate(value)]

    def keys(self) -> list[str]:
        """Every key of this table (for tables whose keys are names, e.g. [log.modules])."""
        return sorted(self._data)

    def finish(self) -> None:
        """Refuse keys nobody asked for: most likely a typo."""
        unknown = sorted(set(self._data) - self._known)
        if unknown:
            known = ", ".join(sorted(self._known)) or "none"
            raise ConfigError(f"{self.source}: unknown key {self.name(unknown[0])} (known keys here: {known})")
