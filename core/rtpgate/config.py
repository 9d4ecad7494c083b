"""One pydantic settings model, filled from: defaults < INI file < environment < command line.

The model is assembled from the :class:`~rtpgate.options.Option` declarations of core and of every
loaded plugin, so it is "one model" even though plugins add fields to it.  The command line
(argparse), the INI keys (rtpengine.conf style: ``[rtpengine]`` section, ``key = value``, lists
separated by ``;``) and the environment variables (``RTPGATE_<NAME>``) are all derived from the
same declarations.
"""

from __future__ import annotations

import argparse
import configparser
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar, cast

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from . import __version__
from .logsetup import Facility, LogFormat
from .options import IGNORED_RTPENGINE_OPTIONS, IGNORED_SHORT_OPTIONS, Option

Port = Annotated[int, Field(ge=1, le=65535)]

#: Options of the core itself.  Those before ``port-min`` are read early (before plugins load).
CORE_OPTIONS: tuple[Option, ...] = (
    Option("config-file", str | None, None,
           "INI file to read (rtpengine.conf format); 'none' reads no file", metavar="FILE"),
    Option("config-section", str, "rtpengine", "section of the config file to read",
           metavar="NAME"),
    Option("plugins-allow", list[str], [],
           "load only these plugins (entry-point names); repeat or separate with ';' or ','",
           metavar="NAME"),
    Option("plugins-deny", list[str], [], "never load these plugins", metavar="NAME"),
    Option("plugin", list[str], [],
           "also load this plugin module (an import path), e.g. while developing one",
           metavar="MODULE"),
    Option("foreground", bool, False, "don't fork to the background", short="-f"),
    Option("pidfile", str | None, None, "write the process id to FILE", short="-p",
           metavar="FILE"),
    Option("log-level", Annotated[int, Field(ge=0, le=7)], 6,
           "syslog-style log level: 0 emergencies only ... 6 info ... 7 debug", short="-L",
           metavar="INT"),
    Option("log-stderr", bool, False, "log to stderr instead of syslog", short="-E"),
    Option("log-facility", Facility, "daemon", "syslog facility (daemon, local0 ... local7, "
           "user, ...)", metavar="FACILITY"),
    Option("log-format", LogFormat, "plain",
           "each log line plain, or a JSON object (time, level, logger, pid, message) for log "
           "shippers: plain|json (rtpengine's default and parsable are read as plain)",
           metavar="FORMAT"),
    Option("log-file", str | None, None,
           "log to FILE instead of syslog or stderr; SIGHUP reopens it (log rotation); "
           "rtpgate's own, rtpengine has none", metavar="FILE"),
    Option("syslog-socket", str, "/dev/log",
           "the syslog socket to log to (when neither --log-stderr nor --log-file is given)",
           metavar="PATH"),
    Option("interface", list[str], ["127.0.0.1"],
           "media interface: [NAME/]IP[!ADVERTISED-IP] (IP must be this host's; ADVERTISED-IP "
           "is what SDP carries), or [NAME/]any for every non-loopback address; repeat for "
           "more", short="-i",
           metavar="[NAME/]IP"),
    Option("port-min", Port, 30000, "lowest media port to allocate", short="-m", metavar="INT"),
    Option("port-max", Port, 40000, "highest media port to allocate", short="-M", metavar="INT"),
    Option("shutdown-deadline", Annotated[float, Field(ge=0)], 0,
           "on SIGTERM, refuse new calls and keep serving the running ones until they end or "
           "this many seconds pass (a second SIGTERM stops at once); 0 stops at once, as "
           "rtpengine does", metavar="SECS"),
    Option("ready-file", str | None, None,
           "write the bound listener addresses as JSON to FILE once serving (for tests and "
           "supervisors)", metavar="FILE"),
    Option("num-threads", Annotated[int, Field(ge=0, le=256)], 1,
           "worker processes, each owning the calls whose call-id hashes to it and a share of "
           "the port range, all on the same listeners; 0 starts one per core (rtpengine's "
           "name: its threads are rtpgate's processes)", metavar="INT"),
)
EARLY_OPTIONS = ("config-file", "config-section", "plugins-allow", "plugins-deny", "plugin")


class ConfigError(Exception):
    """A configuration problem, reported as ``rtpgate: <message>`` before anything listens."""


class UsageError(ConfigError):
    """A bad command line that argparse has already reported (exit status 2, nothing more)."""


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the epilog's line breaks (the sub-command list)."""


class SettingsView:
    """Base of a typed view of the settings: a class that only annotates the fields one reader
    uses (``timeout: int``), obtained with ``settings.view(TheView)`` and never instantiated.
    See :class:`rtpgate.engine.settings.EngineSettings`."""


ViewT = TypeVar("ViewT", bound=SettingsView)


class SettingsBase(BaseModel):
    """Base of the generated settings model.  Assignment is validated, so runtime changes (the
    CLI's ``set ...``) obey the same rules as startup values."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)

    @pydantic.model_validator(mode="after")
    def _port_range(self) -> SettingsBase:
        low, high = getattr(self, "port_min", None), getattr(self, "port_max", None)
        if low is not None and high is not None and low > high:
            raise ValueError(f"--port-min ({low}) is above --port-max ({high})")
        return self

    def view(self, fields: type[ViewT]) -> ViewT:
        """These settings seen through ``fields``, a :class:`SettingsView` that declares (with
        their types) the fields its reader needs: the one typed way to read settings, since
        the model's fields are only known once every plugin has declared its options.  The
        view is these very settings, so a change made while running (the CLI's ``set``)
        shows through it.  :class:`ConfigError` when the model lacks a declared field (the
        plugin that declares that option is not loaded)."""
        missing = sorted(name for name in view_fields(fields)
                         if name not in type(self).model_fields)
        if missing:
            raise ConfigError(f"{fields.__name__}: no option declares {', '.join(missing)}")
        return cast(ViewT, self)

    def named(self, name: str, default: Any = None) -> Any:
        """The field ``name`` when only the running code knows which (a listener option a
        protocol names, the CLI's ``list <param>``), or ``default`` when no option declares
        it.  Fields known when the code is written are read through a :meth:`view`."""
        return getattr(self, name) if name in type(self).model_fields else default


def view_fields(fields: type[SettingsView]) -> set[str]:
    """The field names a settings view declares (its annotations and its bases')."""
    names: set[str] = set()
    for klass in fields.__mro__:
        if issubclass(klass, SettingsView):
            names |= set(vars(klass).get("__annotations__", {}))
    return names


class CoreSettings(SettingsView):
    """The core's own options that the server reads (``settings.view(CoreSettings)``)."""

    foreground: bool
    pidfile: str | None
    log_level: int
    log_stderr: bool
    log_facility: str
    log_format: str
    log_file: str | None
    syslog_socket: str
    shutdown_deadline: float
    ready_file: str | None
    num_threads: int


@dataclass
class LoadedSettings:
    settings: SettingsBase
    #: rtpengine options that were given but are not implemented, by source.
    ignored: list[str] = field(default_factory=list)
    #: Where each explicitly set field came from (``command line``, ``environment ...``, ...).
    sources: dict[str, str] = field(default_factory=dict)


def split_list(value: str) -> list[str]:
    """rtpengine.conf lists are ``;``-separated; commas are accepted too for allow/deny lists."""
    return [part.strip() for part in value.replace(",", ";").split(";") if part.strip()]


def build_model(options: Sequence[Option]) -> type[SettingsBase]:
    """Make the settings model class from option declarations."""
    fields: dict[str, Any] = {}
    for opt in options:
        fields[opt.field_name] = (opt.type, Field(default=opt.default, description=opt.help))
    return pydantic.create_model("Settings", __base__=SettingsBase, **fields)


def _check_unique(options: Sequence[Option]) -> None:
    seen: dict[str, Option] = {}
    for opt in options:
        if opt.name in seen:
            raise ConfigError(f"option --{opt.name} is declared twice "
                              f"({seen[opt.name].owner} and {opt.owner})")
        seen[opt.name] = opt


# ---------------------------------------------------------------------- command line

def build_parser(options: Sequence[Option], prog: str = "rtpgate",
                 with_ignored: bool = True, epilog: str = "") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, allow_abbrev=False, epilog=epilog or None,
                                     formatter_class=HelpFormatter,
                                     description="rtpengine-compatible media proxy control "
                                                 "server: options start the server")
    parser.add_argument("-v", "--version", action="version", version=f"rtpgate {__version__}")
    shorts_used: set[str] = set()
    for opt in options:
        flags = [f"--{opt.name}"]
        if opt.short:
            flags.insert(0, opt.short)
            shorts_used.add(opt.short)
        kwargs: dict[str, Any] = {"dest": opt.field_name, "default": argparse.SUPPRESS,
                                  "help": argparse.SUPPRESS if opt.hidden else _help(opt)}
        if opt.is_flag:
            kwargs["action"] = "store_const"
            kwargs["const"] = True
        elif opt.is_list:
            kwargs["action"] = "append"
            kwargs["metavar"] = opt.metavar
        else:
            kwargs["metavar"] = opt.metavar
        parser.add_argument(*flags, **kwargs)
    if with_ignored:
        declared = {opt.name for opt in options}
        group = parser.add_argument_group("rtpengine options accepted and ignored")
        for name, takes_value in IGNORED_RTPENGINE_OPTIONS.items():
            if name in declared:
                continue
            flags = [f"--{name}"]
            flags += [s for s, n in IGNORED_SHORT_OPTIONS.items()
                      if n == name and s not in shorts_used]
            if takes_value:
                group.add_argument(*flags, dest=f"ignored:{name}", default=argparse.SUPPRESS,
                                   action="append", help=argparse.SUPPRESS)
            else:
                group.add_argument(*flags, dest=f"ignored:{name}", default=argparse.SUPPRESS,
                                   action="store_const", const=True, help=argparse.SUPPRESS)
    return parser


def _help(opt: Option) -> str:
    text = opt.help.replace("%", "%%")
    return f"{text} (default: {opt.default_text})" if opt.default_text else text


def parse_argv(parser: argparse.ArgumentParser, argv: Sequence[str]) -> dict[str, Any]:
    try:
        namespace = parser.parse_args(list(argv))
    except SystemExit as exc:  # argparse already printed the problem (or the help)
        if exc.code == 0:
            raise
        raise UsageError("invalid command line") from exc
    return vars(namespace)


def prescan(argv: Sequence[str], env: Mapping[str, str]) -> dict[str, Any]:
    """Read the early options (config file, section, plugin allow/deny) before plugins load."""
    early = [o for o in CORE_OPTIONS if o.name in EARLY_OPTIONS]
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    for opt in early:
        parser.add_argument(f"--{opt.name}", dest=opt.field_name, default=argparse.SUPPRESS,
                            action="append" if opt.is_list else "store")
    known, _ = parser.parse_known_args(list(argv))
    values: dict[str, Any] = {}
    for opt in early:
        if opt.env_name in env:
            raw = env[opt.env_name]
            values[opt.field_name] = split_list(raw) if opt.is_list else raw
    for key, value in vars(known).items():
        values[key] = ([x for v in value for x in split_list(v)] if isinstance(value, list)
                       else value)
    ini = _read_ini(values.get("config_file"), values.get("config_section", "rtpengine"))
    merged = {opt.field_name: opt.default for opt in early}
    for opt in early:
        if opt.name in ini:
            merged[opt.field_name] = split_list(ini[opt.name]) if opt.is_list else ini[opt.name]
    merged.update(values)
    return merged


# ---------------------------------------------------------------------- INI file

def _read_ini(path: str | None, section: str) -> dict[str, str]:
    if not path or path == "none":
        return {}
    parser = configparser.ConfigParser(interpolation=None, strict=False, delimiters=("=",),
                                       comment_prefixes=("#",), inline_comment_prefixes=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        with open(path, encoding="utf-8") as fh:
            parser.read_file(fh)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    except configparser.Error as exc:
        raise ConfigError(f"cannot parse config file {path}: {exc}") from exc
    if not parser.has_section(section):
        raise ConfigError(f"config file {path} has no section [{section}]")
    return dict(parser.items(section))


def _ini_value(opt: Option, raw: str) -> Any:
    return split_list(raw) if opt.is_list else raw.strip()


# ---------------------------------------------------------------------- assembling

def load_settings(options: Sequence[Option], argv: Sequence[str],
                  env: Mapping[str, str] | None = None, epilog: str = "") -> LoadedSettings:
    """Validate every source and return the settings, or raise :class:`ConfigError`.
    ``epilog`` ends ``--help`` (the sub-commands)."""
    env = os.environ if env is None else env
    _check_unique(options)
    by_field = {opt.field_name: opt for opt in options}
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    ignored: list[str] = []

    cli = parse_argv(build_parser(options, epilog=epilog), argv)
    config_file = cli.get("config_file", env.get("RTPGATE_CONFIG_FILE"))
    section = cli.get("config_section", env.get("RTPGATE_CONFIG_SECTION", "rtpengine"))
    ini = _read_ini(config_file, section)
    for key, raw in ini.items():
        opt = by_field.get(key.replace("-", "_"))
        if opt is None or key != opt.name:
            ignored.append(f"{key} (config file)")
            continue
        values[opt.field_name] = _ini_value(opt, raw)
        sources[opt.field_name] = f"config file {config_file} [{section}] key {key}"

    for opt in options:
        if opt.env_name in env:
            raw = env[opt.env_name]
            values[opt.field_name] = split_list(raw) if opt.is_list else raw
            sources[opt.field_name] = f"environment {opt.env_name}"

    for dest, value in cli.items():
        if dest.startswith("ignored:"):
            ignored.append(f"--{dest.split(':', 1)[1]} (command line)")
            continue
        opt = by_field[dest]
        if opt.is_list:
            value = [x for v in value for x in (split_list(v) if opt.name.startswith("plugin")
                                                else [v.strip()] if v.strip() else [])]
        values[dest] = value
        sources[dest] = "command line"

    listener_opts = [opt for opt in options if opt.listener]
    if not any(values.get(opt.field_name) for opt in listener_opts):
        for opt in listener_opts:
            values[opt.field_name] = list(opt.listener_default)

    model = build_model(options)
    try:
        settings = model(**values)
    except pydantic.ValidationError as exc:
        raise ConfigError(_describe_validation(exc, by_field, sources, values)) from None
    return LoadedSettings(settings, ignored, sources)


def _describe_validation(exc: pydantic.ValidationError, by_field: Mapping[str, Option],
                         sources: Mapping[str, str], values: Mapping[str, Any]) -> str:
    problems = []
    for err in exc.errors():
        if not err["loc"]:
            problems.append(str(err["msg"]).removeprefix("Value error, "))
            continue
        name = str(err["loc"][0])
        opt = by_field.get(name)
        label = f"--{opt.name}" if opt else name
        source = sources.get(name, "default")
        problems.append(f"invalid value {values.get(name)!r} for {label} (from {source}): "
                        f"{err['msg']}")
    return "; ".join(problems)
