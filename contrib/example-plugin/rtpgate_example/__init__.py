"""An example third-party rtpgate plugin (see README.md)."""
