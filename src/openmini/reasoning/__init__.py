"""Reasoning control: effort -> thinking budget, a thinking block delimited by a grammar, the
budget enforced by the engine, and the reasoning text kept apart from the answer."""

from openmini.reasoning.effort import (
    EFFORT_BUDGETS,
    EFFORTS,
    MIN_BUDGET,
    ReasoningSpec,
    reasoning_spec,
)

__all__ = ["EFFORTS", "EFFORT_BUDGETS", "MIN_BUDGET", "ReasoningSpec", "reasoning_spec"]
