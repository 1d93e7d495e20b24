"""The runner tests' `world` fixture (batch/runner_world.py)."""

from batch.runner_world import world  # noqa: F401
