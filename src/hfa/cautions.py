"""What a finished run should warn about: lines kept in run.json (``warnings``) and printed by ``hfa train``.

A warning is not an error: the run is trained and written, and its numbers are what they are; the line says why
they may not hold on new data.
"""

from __future__ import annotations

from typing import Any

FEW_TUNING_POSITIVES = 20
"""Validation positives below which a tuned threshold is noise: with 7 positives one row moves recall by 0.14,
and the F1-best threshold jumps with it (a threshold of 0.995 chosen so scored F1 0 on test)."""


def run_warnings(data: dict[str, Any], val_positives: int | list[int], labels: list[str] | None = None) -> list[str]:
    """The warnings of a run from its data summary (``Splits.info``) and its validation positives (per label)."""
    lines = []
    separating = data.get("separating_features") or []
    if isinstance(separating, dict):  # multi-label: label -> columns
        for label, columns in separating.items():
            lines.append(_separating(columns, f" label {label!r}"))
    elif separating:
        lines.append(_separating(separating, ""))
    counts = val_positives if isinstance(val_positives, list) else [val_positives]
    names = labels or [""]
    for name, count in zip(names, counts, strict=True):
        if count < FEW_TUNING_POSITIVES:
            of = f" of label {name!r}" if name else ""
            lines.append(
                f"the tuned threshold{of} rests on {count} validation positive{'s' * (count != 1)} (fewer than "
                f"{FEW_TUNING_POSITIVES}): it may not hold on new data; raise data.val_size or prefer the fixed rule"
            )
    return lines


def _separating(columns: list[str], what: str) -> str:
    shown = ", ".join(repr(c) for c in columns[:8]) + (f", ... ({len(columns)} in all)" if len(columns) > 8 else "")
    return (
        f"feature{'s' * (len(columns) > 1)} {shown} alone separate{'s' * (len(columns) == 1)} the classes{what} of "
        "the training split perfectly: check for a leak (a column known only after the outcome), or leave "
        "it out with data.drop"
    )
