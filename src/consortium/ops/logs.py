"""The node's logging: one line per event, text or JSON, per-module levels, rotation, SIGHUP reload.

Operators ship and search logs; that needs a stable line format (``text``: time, level,
node, module, message; ``json``: one object per line with the same fields, made by
python-json-logger rather than by hand), levels they can raise for one module while
chasing a problem (``[log.modules]``, re-read on SIGHUP without a restart), and a file
that does not fill the disk (rotated by size). A fatal cause is logged at CRITICAL, which
always reaches stderr too, so it survives a log file on a full disk.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from dataclasses import replace
from pathlib import Path

from pythonjsonlogger.json import JsonFormatter

from consortium.node.config import LogSettings

_OWNED = "_consortium_handler"
"""Marks the handlers this module installed, so a reload replaces exactly those."""


def _formatter(settings: LogSettings, node: str) -> logging.Formatter:
    if settings.format == "json":
        return JsonFormatter(
            "%(levelname)s %(name)s %(message)s", timestamp="time",
            rename_fields={"levelname": "level", "name": "module"}, static_fields={"node": node},
            json_ensure_ascii=False,
        )
    return logging.Formatter(f"%(asctime)s %(levelname)-8s {node} %(name)s: %(message)s")


class NodeLogging:
    """Installs the root logger's handlers for one node and re-applies settings on request."""

    def __init__(self, node: str, settings: LogSettings, *, level_override: str | None = None,
                 format_override: str | None = None, file_override: Path | None = None) -> None:
        self.node = node
        self._level_override = level_override
        self._format_override = format_override
        self._file_override = file_override
        self._module_levels: list[str] = []
        self.settings = settings
        self.apply(settings)

    @property
    def to_stderr_only(self) -> bool:
        return self.settings.file is None

    def _effective(self, settings: LogSettings) -> LogSettings:
        return replace(
            settings,
            level=self._level_override or settings.level,
            format=self._format_override or settings.format,
            file=self._file_override or settings.file,
        )

    def apply(self, settings: LogSettings) -> None:
        """(Re)install handlers and levels; the log file is reopened (so external rotation works too)."""
        settings = self._effective(settings)
        root = logging.getLogger()
        for handler in [h for h in root.handlers if getattr(h, _OWNED, False)]:
            root.removeHandler(handler)
            handler.close()
        formatter = _formatter(settings, self.node)
        handlers: list[logging.Handler] = []
        if settings.file is not None:
            settings.file.parent.mkdir(parents=True, exist_ok=True)
            rotating = logging.handlers.RotatingFileHandler(
                settings.file, maxBytes=settings.max_bytes, backupCount=settings.backups, encoding="utf-8", delay=True)
            handlers.append(rotating)
            fatal = logging.StreamHandler(sys.stderr)  # fatal causes also reach stderr (and the journal)
            fatal.setLevel(logging.CRITICAL)
            handlers.append(fatal)
        else:
            handlers.append(logging.StreamHandler(sys.stderr))
        for handler in handlers:
            setattr(handler, _OWNED, True)
            handler.setFormatter(formatter)
            root.addHandler(handler)
        root.setLevel(getattr(logging, settings.level.upper()))
        for name in self._module_levels:
            logging.getLogger(name).setLevel(logging.NOTSET)
        self._module_levels = []
        for name, level in settings.modules:
            logging.getLogger(name).setLevel(getattr(logging, level.upper()))
            self._module_levels.append(name)
        # Library chatter (aiohttp access and internals) stays out unless asked for by name.
        if not any(name.startswith("aiohttp") for name, _ in settings.modules):
            logging.getLogger("aiohttp").setLevel(max(logging.WARNING, root.level))
        self.settings = settings

    def reload(self, config_path: Path) -> bool:
        """Re-read ``[log]`` from the config file (SIGHUP). A bad file keeps the old settings."""
        from consortium.node.config import load_config
        from consortium.node.toml_io import ConfigError

        log = logging.getLogger("consortium.node")
        try:
            settings = load_config(config_path).log
        except (ConfigError, OSError) as exc:
            log.error("log settings not reloaded (keeping the old ones): %s", exc)
            return False
        self.apply(settings)
        modules = ", ".join(f"{n}={lv}" for n, lv in self.settings.modules) or "none"
        log.warning("log settings reloaded: level %s, format %s, module levels: %s",
                    self.settings.level, self.settings.format, modules)
        return True
