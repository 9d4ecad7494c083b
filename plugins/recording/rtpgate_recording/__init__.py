"""rtpgate-recording: call recording (rtpengine's ``pcap`` and ``proc`` methods) and media
forwarding to a UDP target."""
