"""rtpgate's Prometheus endpoint: ``GET /metrics`` rendered with prometheus-client."""
