"""rtpgate: an rtpengine-compatible media proxy control server built from plugins.

Plugins import :data:`hookimpl` from here to mark their hook implementations.
"""

from importlib.metadata import PackageNotFoundError, version

import pluggy

hookimpl = pluggy.HookimplMarker("rtpgate")

try:
    __version__ = version("rtpgate")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = ["__version__", "hookimpl"]
