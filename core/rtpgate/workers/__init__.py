"""Worker processes sharded by call-id (``--num-threads``), see docs/architecture.md.

:mod:`.shard` says which worker owns a call and what each worker is told when it starts;
:mod:`.link` carries requests between workers over Unix sockets; :mod:`.gather` merges the
replies of commands that span calls; :mod:`.supervisor` is the parent that starts the workers
and restarts one that dies.
"""
