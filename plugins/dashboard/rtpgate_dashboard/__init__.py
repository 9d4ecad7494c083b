"""rtpgate's live operator page: ``GET /dashboard`` and the ``dashboard.rtpgate`` subprotocol."""
