"""``list totals|counters|jsonstats|interfaces|transcoders``, read from the one metric list
(:mod:`rtpgate.statistics`) so they agree with ng ``statistics`` and ``/metrics``; with
several workers the list is every worker's counters together."""

from __future__ import annotations

import ipaddress

from rtpgate.api import json_text, merged_counters, merged_metrics, totals_text

from ..tree import CliContext

#: ``list counters``: the per-second rates of the metric list, with their ``list totals`` text.
COUNTER_KEYS = tuple(f"{kind}rate{suffix}" for suffix in ("_user", "_kernel", "")
                     for kind in ("packet", "byte", "error"))

#: glibc's text for the 0/0 averages of an interface with no samples (x86's default NaN has
#: its sign bit set).
NO_SAMPLES = "-nan"


async def list_totals(ctx: CliContext, args: str) -> None:
    ctx.write(totals_text(await merged_metrics(ctx.runtime)))


async def list_jsonstats(ctx: CliContext, args: str) -> None:
    ctx.write(json_text(await merged_metrics(ctx.runtime)))


async def list_counters(ctx: CliContext, args: str) -> None:
    metrics = {m.key: m for m in await merged_metrics(ctx.runtime) if m.key in COUNTER_KEYS}
    ctx.write("\nCurrent per-second counters:\n\n" + "".join(
        f" {metrics[key].descr:<48}:{metrics[key].long}\n" for key in COUNTER_KEYS))


async def list_interfaces(ctx: CliContext, args: str) -> None:
    stats, engine = await merged_counters(ctx.runtime)
    for pool in engine.interfaces:
        family = f"IPv{ipaddress.ip_address(pool.address).version}"
        total = pool.max - pool.min + 1
        used_pct = pool.used * 100.0 / total if total else 0.0
        traffic = stats.interface(pool.name, pool.address)
        ingress, egress = traffic.ingress, traffic.egress
        ctx.write(
            f"Interface '{pool.name}' address '{pool.address}' ({family})\n"
            f" Port range: {pool.min:5d} - {pool.max:5d}\n"
            f" Ports used: {pool.used:5d} / {total:5d} ({used_pct:5.1f}%)\n"
            " Packets/bytes/errors:\n"
            f"  Ingress:   {ingress.packets:10d} / {ingress.bytes:10d} / {ingress.errors:10d}\n"
            f"  Egress:    {egress.packets:10d} / {egress.bytes:10d} / {egress.errors:10d}\n"
            f" Packets lost/duplicates: {0:10d} / {0:10d}\n"
            f" MOS:    avg {NO_SAMPLES}, packet loss avg {NO_SAMPLES}%\n"
            f" Jitter: avg {NO_SAMPLES} (measured {NO_SAMPLES})\n"
            f" RTT:    e2e {NO_SAMPLES}, dsct {NO_SAMPLES}\n\n")


def list_transcoders(ctx: CliContext, args: str) -> None:
    ctx.write("No stats entries\n")
