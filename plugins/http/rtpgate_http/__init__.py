"""rtpgate's HTTP(S) transport plugin."""
