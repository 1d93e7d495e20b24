"""Hooks by name: built-ins, `{"name", "args"}` specs, and plugins from entry points."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

import openmini.hooks.registry as registry_mod
from openmini.errors import InvalidRequest
from openmini.hooks import HookToken, replace
from openmini.hooks.builtin import MaxSentences, MaxTime, StopRegex
from openmini.hooks.chain import HookChain
from openmini.hooks.registry import GROUP, HOOKS, hooks_from_specs, load_plugins
from openmini.registry import Registry
from openmini.types import Usage


class Shout:
    """A plugin hook: upper-cases the answer."""

    name = "shout"

    def __init__(self, suffix: str = ""):
        self.suffix = suffix

    def __call__(self, tok: HookToken) -> Any:
        return None if tok.reasoning else replace(tok.text.upper() + self.suffix)


def make_shout(suffix: str = "") -> Shout:
    return Shout(suffix)


@dataclass
class FakeEntryPoint:
    name: str
    value: str


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> Registry[Any]:
    """A Registry of its own with the built-ins, and no plugins loaded yet."""
    reg: Registry[Any] = Registry("hook")
    reg.register("stop_regex", "openmini.hooks.builtin:StopRegex")
    reg.register("max_sentences", "openmini.hooks.builtin:MaxSentences")
    reg.register("max_time", "openmini.hooks.builtin:MaxTime")
    monkeypatch.setattr(registry_mod, "_loaded", set())
    monkeypatch.setattr(registry_mod, "entry_points", lambda group: [])
    return reg


def plugins(monkeypatch: pytest.MonkeyPatch, *eps: FakeEntryPoint) -> list[str]:
    groups: list[str] = []

    def entry_points(group: str) -> list[FakeEntryPoint]:
        groups.append(group)
        return list(eps)

    monkeypatch.setattr(registry_mod, "entry_points", entry_points)
    return groups


def test_the_builtins_are_registered() -> None:
    assert {"stop_regex", "max_sentences", "max_time"} <= set(HOOKS.names())
    assert GROUP == "openmini.hooks"


def test_names_and_specs(fresh: Registry[Any]) -> None:
    hooks = hooks_from_specs([{"name": "max_time", "args": {"seconds": 5}},
                              {"name": "max_sentences", "args": {"n": 2}},
                              {"name": "stop_regex", "args": {"patterns": ["END"]}}],
                             registry=fresh)
    assert [type(h) for h in hooks] == [MaxTime, MaxSentences, StopRegex]
    assert hooks[0].seconds == 5
    assert hooks[1].n == 2


def test_a_bare_name_takes_no_args(fresh: Registry[Any]) -> None:
    fresh.register("shout", Shout)
    (hook,) = hooks_from_specs(["shout"], registry=fresh)
    assert isinstance(hook, Shout) and hook.suffix == ""
    (hook,) = hooks_from_specs([{"name": "shout"}], registry=fresh)  # args may be left out
    assert isinstance(hook, Shout)


def test_each_spec_gets_a_fresh_hook(fresh: Registry[Any]) -> None:
    fresh.register("shout", Shout)
    a, b = hooks_from_specs(["shout", "shout"], registry=fresh)
    assert a is not b
    assert hooks_from_specs([], registry=fresh) == ()


def test_an_unknown_hook_names_its_position_and_the_known_ones(fresh: Registry[Any]) -> None:
    with pytest.raises(InvalidRequest) as err:
        hooks_from_specs([{"name": "max_sentences", "args": {"n": 1}}, "nope"], registry=fresh)
    assert err.value.param == "hooks[1]"
    assert "'nope'" in err.value.message
    for known in ("max_sentences", "max_time", "stop_regex"):
        assert known in err.value.message
    with pytest.raises(InvalidRequest) as err:
        hooks_from_specs([{"name": "nope", "args": {}}], registry=fresh)
    assert err.value.param == "hooks[0]"


@pytest.mark.parametrize("spec", [5, None, ["max_time"], {"args": {}}, {"name": 3},
                                  {"name": "max_time", "args": [1]},
                                  {"name": "max_time", "args": {}, "extra": 1}])
def test_a_malformed_spec_names_its_position(fresh: Registry[Any], spec: Any) -> None:
    with pytest.raises(InvalidRequest) as err:
        hooks_from_specs([{"name": "max_sentences", "args": {"n": 1}}, spec], registry=fresh)
    assert err.value.param == "hooks[1]"


@pytest.mark.parametrize("spec", [
    {"name": "max_time", "args": {"seconds": 0}},  # the hook's own validation
    {"name": "max_sentences", "args": {"n": "two"}},
    {"name": "stop_regex", "args": {"patterns": ["("]}},
    {"name": "max_time", "args": {"secs": 1}},  # an unknown keyword
    {"name": "max_time", "args": {}},  # a missing one
    "max_sentences",
])
def test_bad_args_name_the_args(fresh: Registry[Any], spec: Any) -> None:
    with pytest.raises(InvalidRequest) as err:
        hooks_from_specs([spec], registry=fresh)
    assert err.value.param == "hooks[0].args"
    assert "hooks[0]" in err.value.message


def test_a_factory_raising_value_error_is_a_bad_args_error(fresh: Registry[Any]) -> None:
    def picky(level: int) -> Any:
        raise ValueError(f"level {level} is too high")

    fresh.register("picky", picky)
    with pytest.raises(InvalidRequest) as err:
        hooks_from_specs([{"name": "picky", "args": {"level": 9}}], registry=fresh)
    assert err.value.param == "hooks[0].args"
    assert "level 9 is too high" in err.value.message


def test_the_param_prefix_can_be_chosen(fresh: Registry[Any]) -> None:
    with pytest.raises(InvalidRequest) as err:
        hooks_from_specs(["nope"], registry=fresh, param="extra_body.hooks")
    assert err.value.param == "extra_body.hooks[0]"


def test_a_plugin_entry_point_is_loaded_and_usable(fresh: Registry[Any],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    groups = plugins(monkeypatch, FakeEntryPoint("shout", f"{__name__}:make_shout"))
    (hook,) = hooks_from_specs([{"name": "shout", "args": {"suffix": "!"}}], registry=fresh)
    assert groups == [GROUP]
    assert isinstance(hook, Shout)
    chain = HookChain([hook], 0)
    assert chain.push([(False, "hi")], False, 1, Usage(), 0.0) == [(False, "HI!")]
    assert "shout" in fresh.names()


def test_plugins_are_looked_up_once(fresh: Registry[Any],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    groups = plugins(monkeypatch)
    hooks_from_specs([{"name": "max_time", "args": {"seconds": 1}}],
                     registry=fresh)
    hooks_from_specs([], registry=fresh)
    assert groups == [GROUP]


def test_load_plugins_does_not_replace_a_registered_hook(fresh: Registry[Any],
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    plugins(monkeypatch, FakeEntryPoint("max_time", f"{__name__}:make_shout"),
            FakeEntryPoint("shout", f"{__name__}:make_shout"))
    assert load_plugins(fresh) == ["shout"]
    assert load_plugins(fresh) == []  # already there
    assert fresh.get("max_time") is MaxTime


def test_a_broken_plugin_fails_when_used(fresh: Registry[Any],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    plugins(monkeypatch, FakeEntryPoint("ghost", "no_such_module_for_openmini_tests:factory"))
    with pytest.raises(ImportError):
        hooks_from_specs(["ghost"], registry=fresh)
