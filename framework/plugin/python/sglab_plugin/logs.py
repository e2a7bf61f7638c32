"""Logs in hclog's JSON format on stderr, which is what the Go host relays.

go-plugin's host reads a plugin's stderr line by line; a line that parses as hclog JSON
({"@level", "@message", "@timestamp", "@module", key: value...}) is re-logged at its
level with its key/values, anything else only at debug level. So everything the SDK
and the plugin say goes out as one JSON object per line, and the standard logging
module (used by torch, PIL and friends) is routed through the same format by serve().
"""

from __future__ import annotations

import datetime
import json
import logging
import sys
import threading

_LEVELS = {"trace": 0, "debug": 1, "info": 2, "warn": 3, "error": 4}
_lock = threading.Lock()


def _timestamp() -> str:
    # hclog's layout 2006-01-02T15:04:05.000000Z07:00; the host drops lines it cannot parse.
    return datetime.datetime.now().astimezone().isoformat(timespec="microseconds")


def emit(level: str, module: str, msg: str, fields: dict) -> None:
    """Writes one hclog JSON line to stderr (whatever sys.stderr is at the time)."""
    entry = {"@level": level, "@message": str(msg), "@timestamp": _timestamp()}
    if module:
        entry["@module"] = module
    for k, v in fields.items():
        if not k.startswith("@"):
            entry[k] = v
    line = json.dumps(entry, default=str, ensure_ascii=False) + "\n"
    with _lock:
        try:
            sys.stderr.write(line)
            sys.stderr.flush()
        except (OSError, ValueError):
            pass  # the host is gone; nobody is left to tell


class Logger:
    """A small hclog-like logger: log.info("loaded", model=name, seconds=3.2).

    Key/values become fields of the JSON line and reach the runner's log as hclog
    key=value pairs; log.info("epoch %d", 3) formats as the logging module would.
    """

    def __init__(self, module: str = "", level: str = "info") -> None:
        self.module = module
        self._level = _LEVELS[level]

    def named(self, name: str) -> Logger:
        """A logger whose @module is this one's plus name, as hclog's Named."""
        return Logger(f"{self.module}.{name}" if self.module else name, self.level)

    @property
    def level(self) -> str:
        return next(k for k, v in _LEVELS.items() if v == self._level)

    def set_level(self, level: str) -> None:
        """Drops entries below level ("trace", "debug", "info", "warn", "error")."""
        self._level = _LEVELS[level]

    def log(self, level: str, msg: str, *args, **fields) -> None:
        """Logs msg at level; positional args %-format it, as the logging module does."""
        if _LEVELS[level] >= self._level:
            if args:
                try:
                    msg = msg % args
                except (TypeError, ValueError):
                    msg = " ".join([str(msg)] + [str(a) for a in args])
            emit(level, self.module, msg, fields)

    def trace(self, msg: str, *args, **fields) -> None:
        self.log("trace", msg, *args, **fields)

    def debug(self, msg: str, *args, **fields) -> None:
        self.log("debug", msg, *args, **fields)

    def info(self, msg: str, *args, **fields) -> None:
        self.log("info", msg, *args, **fields)

    def warn(self, msg: str, *args, **fields) -> None:
        self.log("warn", msg, *args, **fields)

    warning = warn

    def error(self, msg: str, *args, **fields) -> None:
        self.log("error", msg, *args, **fields)


class HclogHandler(logging.Handler):
    """Routes standard logging records into hclog JSON lines."""

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR:
            level = "error"
        elif record.levelno >= logging.WARNING:
            level = "warn"
        elif record.levelno >= logging.INFO:
            level = "info"
        else:
            level = "debug"
        fields = {}
        if record.exc_info:
            fields["error"] = self.format(record).split("\n", 1)[-1]
        try:
            msg = record.getMessage()
        except Exception:  # a bad format string must not kill the plugin
            msg = str(record.msg)
        emit(level, record.name if record.name != "root" else "", msg, fields)


class StdoutToLog:
    """A text stream that turns each line written to it into an info log entry
    "stdout: <line>", as the Go host prefixes a Go plugin's stdout. serve() installs it
    as sys.stdout after the handshake, so a stray print can never corrupt the protocol
    and still shows up in the runner's log."""

    encoding = "utf-8"
    errors = "replace"

    def __init__(self, logger: Logger) -> None:
        self._log = logger
        self._buf = ""
        self._lock = threading.Lock()

    def write(self, s: str) -> int:
        with self._lock:
            self._buf += s
            *lines, self._buf = self._buf.split("\n")
        for line in lines:
            if line.strip():
                self._log.info("stdout: " + line)
        return len(s)

    def flush(self) -> None:
        with self._lock:
            line, self._buf = self._buf, ""
        if line.strip():
            self._log.info("stdout: " + line)

    def isatty(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return 1  # fd 1 itself is a copy of stderr by then

    @property
    def closed(self) -> bool:
        return False


log = Logger()
