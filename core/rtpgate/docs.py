"""Reference documentation generated from the code, so it cannot drift from it."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from types import ModuleType

from .options import Option


def _type_name(opt: Option) -> str:
    if opt.is_flag:
        return "flag"
    text = getattr(opt.type, "__name__", None) or str(opt.type)
    return text.replace("typing.", "").replace("Annotated[", "").split(",")[0].rstrip("]")


def options_reference(options: Sequence[Option]) -> str:
    """Markdown table of every option: command line, INI key, environment, default, help."""
    lines = ["| option | short | type | default | environment | from | meaning |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for opt in sorted(options, key=lambda o: (o.owner != "rtpgate", o.owner, o.name)):
        if opt.hidden:
            continue
        if opt.listener_default:
            default = "`" + ";".join(opt.listener_default) + "` (when no listener is given)"
        elif opt.default in (None, [], ()):
            default = ""
        else:
            default = "`" + (";".join(opt.default) if opt.is_list else str(opt.default)) + "`"
        lines.append(f"| `--{opt.name}` | {opt.short or ''} | {_type_name(opt)} | {default} | "
                     f"`{opt.env_name}` | {opt.owner} | {opt.help} |")
    return "\n".join(lines) + "\n"


def hooks_reference(module: ModuleType) -> str:
    """Markdown section per hook of a hookspec module, from signatures and docstrings."""
    out = []
    for name, func in inspect.getmembers(module, inspect.isfunction):
        if not name.startswith("rtpgate_"):
            continue
        out.append(f"## `{name}{inspect.signature(func)}`\n\n{inspect.getdoc(func)}\n")
    return "\n".join(out)
