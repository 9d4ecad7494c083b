"""Logging like rtpengine: syslog levels 0-7, to syslog (the default, also when daemonised),
to stderr (``--log-stderr``) or to a file (``--log-file``, reopened on SIGHUP for log rotation);
each line plain or a JSON object (``--log-format``).  The CLI's ``set loglevel`` changes the
levels while running (it sets the loggers' levels; the handler passes everything)."""

from __future__ import annotations

import datetime
import json
import logging
import logging.handlers
import os
import sys
from typing import Annotated

from pydantic import AfterValidator

NOTICE = 25
logging.addLevelName(NOTICE, "NOTICE")

#: rtpengine's (syslog) levels to Python's.
SYSLOG_TO_PYTHON = {0: logging.CRITICAL, 1: logging.CRITICAL, 2: logging.CRITICAL,
                    3: logging.ERROR, 4: logging.WARNING, 5: NOTICE, 6: logging.INFO,
                    7: logging.DEBUG}
STDERR_FORMAT = "[%(created).6f] %(levelname)s: [%(name)s] %(message)s"
#: syslog lines carry no time of their own (syslog adds it), but the tag with the pid.
SYSLOG_FORMAT = "rtpgate[%(process)d]: %(levelname)s: [%(name)s] %(message)s"
#: ``--log-format`` values; ``default`` and ``parsable`` are rtpengine's spellings (both plain
#: here: rtpgate's plain lines are already one record per line).
LOG_FORMATS = {"plain": "plain", "default": "plain", "parsable": "plain", "json": "json"}


def _facility(name: str) -> str:
    if name not in logging.handlers.SysLogHandler.facility_names:
        known = ", ".join(sorted(logging.handlers.SysLogHandler.facility_names))
        raise ValueError(f"unknown syslog facility {name!r} (one of {known})")
    return name


def _log_format(name: str) -> str:
    if name not in LOG_FORMATS:
        raise ValueError(f"unknown log format {name!r} (plain or json; rtpengine's default and "
                         "parsable are read as plain)")
    return name


#: Settings types of ``--log-facility`` and ``--log-format``.
Facility = Annotated[str, AfterValidator(_facility)]
LogFormat = Annotated[str, AfterValidator(_log_format)]


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``pid``,
    ``message``, and ``exception`` when there is one.  ``prefix`` is the syslog tag."""

    def __init__(self, prefix: str = "") -> None:
        super().__init__()
        self.prefix = prefix

    def format(self, record: logging.LogRecord) -> str:
        data = {"time": datetime.datetime.fromtimestamp(record.created, datetime.UTC)
                .isoformat(timespec="microseconds"),
                "level": record.levelname, "logger": record.name, "pid": record.process,
                "message": record.getMessage()}
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        prefix = self.prefix % {"process": record.process} if self.prefix else ""
        return prefix + json.dumps(data, ensure_ascii=False)


class SysLogHandler(logging.handlers.SysLogHandler):
    """rtpengine's NOTICE is syslog's notice (the standard class knows only Python's levels)."""

    priority_map = {**logging.handlers.SysLogHandler.priority_map, "NOTICE": "notice"}


def _formatter(log_format: str, syslog: bool) -> logging.Formatter:
    if LOG_FORMATS[log_format] == "json":
        return JsonFormatter("rtpgate[%(process)d]: " if syslog else "")
    return logging.Formatter(SYSLOG_FORMAT if syslog else STDERR_FORMAT)


def configure(level: int, to_stderr: bool, facility: str = "daemon", log_format: str = "plain",
              log_file: str | None = None, syslog_socket: str = "/dev/log",
              detaching: bool = False) -> str | None:
    """Route every logger to one handler at ``level``.  Returns a warning for the caller to
    print where the operator sees it (syslog asked for, but no syslog socket), else None.
    ``detaching``: stderr is about to be closed (no ``--foreground``)."""
    handler: logging.Handler
    warning = None
    if log_file:
        handler = logging.FileHandler(log_file, encoding="utf-8")
        syslog = False
    elif to_stderr or not os.path.exists(syslog_socket):
        if not to_stderr:
            warning = f"no syslog socket at {syslog_socket}: logging to stderr" + (
                ", which is closed once detached (give --log-file or --syslog-socket)"
                if detaching else "")
        handler = logging.StreamHandler(sys.stderr)
        syslog = False
    else:
        code = logging.handlers.SysLogHandler.facility_names[facility]
        handler = SysLogHandler(address=syslog_socket, facility=code)
        syslog = True
    handler.setFormatter(_formatter(log_format, syslog))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(SYSLOG_TO_PYTHON[level])
    # Tornado logs every served request at INFO on "tornado.access"; rtpgate does its own.
    logging.getLogger("tornado.access").setLevel(max(logging.WARNING, root.level))
    return warning


def reopen() -> bool:
    """Reopen every log file (SIGHUP, after logrotate moved it).  True when there was one."""
    reopened = False
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.acquire()
            try:
                if handler.stream is not None:
                    handler.stream.close()
                handler.stream = handler._open()
            finally:
                handler.release()
            reopened = True
    return reopened
