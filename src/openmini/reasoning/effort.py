"""`reasoning_effort` and `thinking_budget` -> how many tokens a request may think.

| effort  | budget (tokens) |
|---------|-----------------|
| none    | 0: no thinking block at all |
| minimal | 64 |
| low     | 256 |
| medium  | 1024 |
| high    | 4096 |

`thinking_budget` (an extension field) overrides the effort's budget. Neither given: no
thinking, as with a non-reasoning model.
"""

from __future__ import annotations

from dataclasses import dataclass

from openmini.errors import InvalidRequest

EFFORTS = ("none", "minimal", "low", "medium", "high")
EFFORT_BUDGETS = {"none": 0, "minimal": 64, "low": 256, "medium": 1024, "high": 4096}
MIN_BUDGET = 16  # a budget must leave room for the closing tag and a few thoughts
MAX_BUDGET = 131072
ANSWER_RESERVE = 256  # tokens kept for the answer when max_tokens is smaller than the budget


@dataclass(frozen=True, slots=True)
class ReasoningSpec:
    """What a request asked for: `budget` thinking tokens at most (> 0)."""

    effort: str
    budget: int

    def budget_within(self, max_tokens: int) -> int:
        """The budget that still leaves the answer room under max_tokens: at least
        min(ANSWER_RESERVE, max_tokens // 2) tokens stay for the answer."""
        reserve = min(ANSWER_RESERVE, max_tokens // 2)
        return max(0, min(self.budget, max_tokens - reserve))


def reasoning_spec(effort: str | None, budget: int | None) -> ReasoningSpec | None:
    """Validate the two fields; None means no thinking."""
    if effort is not None and effort not in EFFORTS:
        raise InvalidRequest(f"Invalid 'reasoning_effort' {effort!r}: expected one of "
                             f"{', '.join(EFFORTS)}.", param="reasoning_effort")
    if budget is not None:
        if isinstance(budget, bool) or not isinstance(budget, int):
            raise InvalidRequest("'thinking_budget' must be an integer.",
                                 param="thinking_budget")
        if budget != 0 and not MIN_BUDGET <= budget <= MAX_BUDGET:
            raise InvalidRequest(f"'thinking_budget' must be 0 (no thinking) or between "
                                 f"{MIN_BUDGET} and {MAX_BUDGET} tokens, not {budget}.",
                                 param="thinking_budget")
        if effort == "none" and budget > 0:
            raise InvalidRequest("'thinking_budget' cannot be set when 'reasoning_effort' is "
                                 "'none' (no thinking).", param="thinking_budget")
    tokens = budget if budget is not None else EFFORT_BUDGETS[effort or "none"]
    if tokens == 0:
        return None
    return ReasoningSpec(effort or "custom", tokens)
