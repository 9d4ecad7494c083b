"""rtpgate's raw-socket transport: every ``DatagramListener`` over UDP, every ``StreamListener``
over TCP."""
