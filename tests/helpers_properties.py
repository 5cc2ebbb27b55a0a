"""What the property tests (Hypothesis) share: modest, derandomized example counts and the one-line promise."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI is never flaky
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def one_line(message: str) -> bool:
    """An error message as the CLI shows it: one line, no traceback."""
    return bool(message) and "\n" not in message.strip() and "Traceback" not in message
