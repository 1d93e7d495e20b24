"""model "auto": the shipped rule policy, the router sending each request where the policy
says and reporting the rule, and custom policies named in the config."""

from __future__ import annotations

import pytest

from openmini.decoding.constraint import Constraint
from openmini.errors import UpstreamError
from openmini.pipeline import collect
from openmini.reasoning import reasoning_spec
from openmini.router import Router
from openmini.router.auto import Features, RulePolicy, load_policy
from openmini.tools.spec import ToolSpec
from openmini.types import ChatMessage, Request, SamplingParams

from .scripted import Scripted


def ask(text: str = "hi", **fields: object) -> Request:
    return Request(model="auto", messages=(ChatMessage("user", text),), **fields)  # type: ignore[arg-type]


def tool(i: int) -> ToolSpec:
    return ToolSpec(f"f{i}", "", {"type": "object", "properties": {}})


@pytest.mark.parametrize("request_, rule", [
    (ask(), "easy"),
    (ask(reasoning=reasoning_spec("high", None)), "reasoning"),
    (ask(reasoning=reasoning_spec("low", None)), "easy"),
    (ask(tools=tuple(tool(i) for i in range(4))), "tools"),
    (ask(constraint=Constraint.json_schema({"description": "x" * 1600}, "response_format")),
     "schema"),
    (ask("x" * 7000), "long"),
    (ask(max_latency_ms=500.0, reasoning=reasoning_spec("high", None)), "latency"),
    (ask(sampling=SamplingParams(max_tokens=48)), "short"),
    (ask(sampling=SamplingParams(max_tokens=200)), "easy"),
    (ask(sampling=SamplingParams(max_tokens=48), tools=(tool(0),)), "easy"),
])
def test_the_rules_in_order(request_: Request, rule: str) -> None:
    target, name = RulePolicy().choose(Features.of(request_), ["fast", "default"])
    assert name == rule
    assert target == ("default" if rule not in ("easy", "latency") else "fast")


async def test_the_router_sends_auto_where_the_policy_says() -> None:
    fast, default = Scripted(("fast",), "F"), Scripted(("default",), "D")
    router = Router([fast, default])  # both shipped models: the rule policy by default
    assert "auto" in router.model_ids()
    easy, hard = ask(), ask(tools=tuple(tool(i) for i in range(5)))
    assert (await collect(router.generate(easy))).text == "F"
    assert (await collect(router.generate(hard))).text == "D"
    assert easy.route.header() == "deployment=fast; reason=auto:easy"
    assert hard.route.header() == "deployment=default; reason=auto:tools"
    assert await router.count_tokens(hard) == 5


def test_no_auto_without_a_policy_or_both_models() -> None:
    assert "auto" not in Router([Scripted(("fast",))]).model_ids()


class Always:
    def __init__(self, target: str):
        self.target = target

    def choose(self, features: Features, ids: list[str]) -> tuple[str, str]:
        return self.target, "always"


async def test_a_custom_policy_from_the_config() -> None:
    policy = load_policy({"policy": f"{__name__}:Always", "target": "b"})
    router = Router([Scripted(("a",), "A"), Scripted(("b",), "B")], auto=policy)
    request = ask()
    assert (await collect(router.generate(request))).text == "B"
    assert request.route.reason == "auto:always"
    wrong = Router([Scripted(("a",))], auto=Always("zzz"))
    with pytest.raises(UpstreamError, match="zzz"):
        await collect(wrong.generate(ask()))


def test_policy_mistakes_are_named() -> None:
    with pytest.raises(ValueError, match=r"auto\.policy"):
        load_policy({"policy": "nomodule"})
    with pytest.raises(ValueError, match="auto"):
        load_policy({"easy": "a", "colour": "red"})
