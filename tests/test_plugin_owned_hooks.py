"""Hooks a plugin owns (``rtpgate_addhooks``, pytest's ``pytest_addhooks`` pattern): added
when the owner registers, implemented by others with ``optionalhook=True`` in any order."""

from __future__ import annotations

from types import ModuleType, SimpleNamespace

from rtpgate.api import PluginHost, Runtime, hookimpl, hookspec
from rtpgate.testing import make_runtime


def greetings_spec() -> ModuleType:
    module = ModuleType("greeter_hookspecs")

    @hookspec
    def rtpgate_greetings(runtime: Runtime) -> list[str]:
        """Words to greet with."""
        raise AssertionError("a spec is never called")

    module.rtpgate_greetings = rtpgate_greetings  # type: ignore[attr-defined]
    return module


def owner() -> SimpleNamespace:
    spec = greetings_spec()

    @hookimpl
    def rtpgate_addhooks(host: PluginHost) -> None:
        host.add_hookspecs(spec)

    return SimpleNamespace(__name__="greeter", rtpgate_addhooks=rtpgate_addhooks, spec=spec)


def contributor(name: str, optional: bool = True) -> SimpleNamespace:
    @hookimpl(optionalhook=optional)
    def rtpgate_greetings(runtime: Runtime) -> list[str]:
        return [f"hello from {name}"]

    return SimpleNamespace(__name__=name, rtpgate_greetings=rtpgate_greetings)


def test_addhooks_owner_registered_after_an_implementation_still_gets_it() -> None:
    greeter = owner()
    runtime = make_runtime(contributor("early"), greeter, contributor("late"))
    assert runtime.plugins.hookspec_modules[-1] is greeter.spec
    assert runtime.plugins.collect("rtpgate_greetings", runtime=runtime) == [
        ("late", "hello from late"), ("early", "hello from early")]
    assert {r.name: r.status for r in runtime.plugins.records.values()} == {
        "rtpgate": "loaded", "early": "loaded", "greeter": "loaded", "late": "loaded"}


def test_addhooks_implementation_without_the_owner() -> None:
    """Without the owner, an optional implementation is simply never called; one that is not
    optional names an unknown hook and its plugin is refused, as a misspelt hook is."""
    runtime = make_runtime(contributor("optional"), contributor("strict", optional=False))
    records = runtime.plugins.records
    assert records["optional"].status == "loaded"
    assert records["strict"].status == "failed"
    assert "unknown hook 'rtpgate_greetings'" in records["strict"].error
