"""``params start|current|diff|revert``: the configuration at startup (``runtime.initial``) and
now, in rtpengine's newest format (``name = value`` with rtpengine's ``rtpe_config`` member
names, in its order), limited to what rtpgate has."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rtpgate.api import parse_endpoint

from ..tree import CliContext
from ..values import assign, current, initial

Reader = Callable[[str], Any]

#: rtpengine's integer members (``RTPE_CONFIG_INT_PARAMS`` order) and the settings behind them;
#: the limits are kept in hundredths there.
_INTS: tuple[tuple[str, str, int], ...] = (
    ("max_sessions", "max_sessions", 1),
    ("timeout", "timeout", 1),
    ("silent_timeout", "silent_timeout", 1),
    ("final_timeout", "final_timeout", 1),
    ("offer_timeout", "offer_timeout", 1),
    ("delete_delay", "delete_delay", 1),
    ("control_tos", "control_tos", 1),
    ("port_min", "port_min", 1),
    ("port_max", "port_max", 1),
    ("load_limit", "max_load", 100),
    ("cpu_limit", "max_cpu", 100),
)

#: rtpengine's listener lists (``RTPE_CONFIG_ENDPOINT_QUEUE_PARAMS``) that rtpgate has.
_LISTENERS = (("ng_listen_ep", "listen_ng"), ("ng_tcp_listen_ep", "listen_tcp_ng"),
              ("cli_listen_ep", "listen_cli"))

#: What ``set`` can change, as ``params diff`` names it (rtpengine's ``SETTABLE_OPTIONS``,
#: plus offer-timeout and delete-delay, which rtpengine forgets to diff and revert).
SETTABLE: tuple[tuple[str, str, int], ...] = (
    ("max-sessions", "max_sessions", 1),
    ("max-cpu", "max_cpu", 100),
    ("max-load", "max_load", 100),
    ("max-bw", "max_bandwidth", 1),
    ("timeout", "timeout", 1),
    ("silent-timeout", "silent_timeout", 1),
    ("final-timeout", "final_timeout", 1),
    ("offer-timeout", "offer_timeout", 1),
    ("control-tos", "control_tos", 1),
    ("delete-delay", "delete_delay", 1),
)


def _endpoint(text: str) -> str:
    endpoint = parse_endpoint(text)
    return str(endpoint._replace(host=endpoint.host or "0.0.0.0"))


def _interface(spec: str) -> str:
    """``[NAME/]IP[!ADVERTISED]`` -> ``NAME\\IP`` as rtpengine prints an interface."""
    name, _, address = spec.rpartition("/")
    return f"{name or 'default'}\\{address.partition('!')[0]}"


def _render(levels: dict[str, int], value: Reader) -> str:
    lines = [f"log-level-{name} = {level}\n" for name, level in levels.items()]
    lines += [f"{member} = {round(value(field) * scale)}\n" for member, field, scale in _INTS]
    lines.append(f"bw_limit = {value('max_bandwidth')}\n")
    lines.append(f"[max-cpu = {value('max_cpu'):.1f}]\n[max-load = {value('max_load'):.2f}]\n")
    lines += [f"interface[{i}] = {_interface(spec)}\n"
              for i, spec in enumerate(value("interface") or [])]
    for member, field in _LISTENERS:
        lines += [f"{member} = {_endpoint(address)}\n" for address in value(field) or []]
    return "".join(lines)


def params_start(ctx: CliContext, args: str) -> None:
    ctx.write(_render(ctx.log_levels.start, lambda name: initial(ctx.runtime, name)))


def params_current(ctx: CliContext, args: str) -> None:
    ctx.write(_render(ctx.log_levels.now, lambda name: current(ctx.runtime, name)))


def params_diff(ctx: CliContext, args: str) -> None:
    levels = ctx.log_levels
    for name, start in levels.start.items():
        if levels.now[name] != start:
            ctx.write(f"log-level-{name}: {start} => {levels.now[name]}\n")
    for label, field, scale in SETTABLE:
        before, now = initial(ctx.runtime, field), current(ctx.runtime, field)
        if before != now:
            ctx.write(f"{label}: {round(before * scale)} => {round(now * scale)}\n")


def params_revert(ctx: CliContext, args: str) -> None:
    """Put log levels and every settable value back to their startup values (no output)."""
    ctx.log_levels.revert()
    for _, field, _ in SETTABLE:
        if field in type(ctx.runtime.settings).model_fields:
            assign(ctx.runtime, field, initial(ctx.runtime, field))
