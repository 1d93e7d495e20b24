"""Constrained decoding: constraints compiled once (llguidance), enforced per token as a mask."""

from openmini.decoding.constraint import Constraint

__all__ = ["Constraint"]
