"""Servers for the HTTP transport tests: core + rtpgate-http + the probe protocols of this
directory (``probe_protocols.py``, loaded with ``--plugin``)."""

from pathlib import Path

from rtpgate.testing import probe_fixtures

probe_server, shared_server = probe_fixtures("probe_protocols", Path(__file__).parent)
