"""rtpgate's ng protocol without cookies: ``POST /ng-plain`` and ``ng-plain.rtpengine.com``."""
