"""rtpgate's WebSocket transport plugin."""
