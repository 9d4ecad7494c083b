"""rtpgate-redis: call state in Redis, in rtpengine's key shape (``--redis``)."""
