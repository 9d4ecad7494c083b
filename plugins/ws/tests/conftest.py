"""Servers for the WebSocket transport tests: core + rtpgate-http + rtpgate-ws + the probe
protocols of this directory (``probe_ws.py``, loaded with ``--plugin``)."""

from pathlib import Path

from rtpgate.testing import probe_fixtures

probe_server, shared_server = probe_fixtures("probe_ws", Path(__file__).parent)
