"""rtpengine's CLI for rtpgate: the command tree, its transports and the ``rtpgate ctl`` client."""
