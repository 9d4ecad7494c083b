"""Logging like rtpengine: syslog levels 0-7, to syslog or (``--log-stderr``) to stderr."""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys

NOTICE = 25
logging.addLevelName(NOTICE, "NOTICE")

#: rtpengine's (syslog) levels to Python's.
SYSLOG_TO_PYTHON = {0: logging.CRITICAL, 1: logging.CRITICAL, 2: logging.CRITICAL,
                    3: logging.ERROR, 4: logging.WARNING, 5: NOTICE, 6: logging.INFO,
                    7: logging.DEBUG}
STDERR_FORMAT = "[%(created).6f] %(levelname)s: [%(name)s] %(message)s"


def configure(level: int, to_stderr: bool, facility: str = "daemon") -> None:
    """Route the ``rtpgate`` loggers (and Tornado's) to one handler at ``level``."""
    handler: logging.Handler
    if to_stderr or not os.path.exists("/dev/log"):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(STDERR_FORMAT))
    else:
        code = logging.handlers.SysLogHandler.facility_names.get(
            facility, logging.handlers.SysLogHandler.LOG_DAEMON)
        handler = logging.handlers.SysLogHandler(address="/dev/log", facility=code)
        handler.setFormatter(logging.Formatter("rtpgate[%(process)d]: %(levelname)s: "
                                               "[%(name)s] %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(SYSLOG_TO_PYTHON[level])
    # Tornado logs every served request at INFO on "tornado.access"; rtpgate does its own.
    logging.getLogger("tornado.access").setLevel(max(logging.WARNING, root.level))
