"""rtpgate's ng protocol with cookies: ``POST /ng``, ``ng.rtpengine.com``, UDP and TCP ng."""
