"""The ng protocol's transport-independent layer: codec, command registry and dispatch.

The ng *protocol plugins* (``/ng`` with cookies, ``/ng-plain`` without) only frame messages and
hand the payload to :class:`~rtpgate.ngcommands.dispatch.NgDispatcher`.
"""
