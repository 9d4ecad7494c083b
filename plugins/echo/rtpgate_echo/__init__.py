"""rtpgate's dummy test interfaces: ``GET /ping`` and the ``echo.rtpengine.com`` subprotocol."""
