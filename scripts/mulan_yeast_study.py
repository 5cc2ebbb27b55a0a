"""The weighted-BCE seed's claim on mulan/yeast, from the results.csv of `hfa sweep --config configs/mulan-yeast.yaml`.

Prints markdown: the macro table of every arm (mean ± std over seeds, test split), paired tests of each arm against
BCE on the macro rows, and weighted BCE (auto) against BCE label by label. Until `hfa report` takes the label as a
row key, this is how a multi-label sweep is read.

    .venv/bin/python scripts/mulan_yeast_study.py runs/mulan-yeast/results.csv
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
from scipy.stats import wilcoxon

# arm -> (loss label as results.csv holds it, threshold rule); the tempered weight is the only listed pos_weight.
ARMS = {
    "bce": ("bce", "fixed"),
    "bce tuned": ("bce", "tuned"),
    "wbce auto": ("wbce", "fixed"),
    "wbce tempered": ("wbce(tempered)", "fixed"),
    "macro soft-F1": ("f1", "fixed"),
}


def load(path: str) -> pd.DataFrame:
    table = pd.read_csv(path)
    table = table[(table["status"] == "ok") & (table["split"] == "test")].copy()
    table["arm"] = table["loss"].where(~table["loss"].str.startswith("wbce(pos_weight=["), "wbce(tempered)")
    return table


def pick(table: pd.DataFrame, arm: str, label: str) -> pd.DataFrame:
    loss, rule = ARMS[arm]
    rows = table[(table["arm"] == loss) & (table["rule"] == rule) & (table["label"] == label)]
    return rows.set_index("seed").sort_index()


def p_value(a: pd.Series, b: pd.Series) -> float:
    """Wilcoxon signed-rank, exact, two-sided, zero differences dropped: named so every scipy gives the same p."""
    diffs = (a - b).to_numpy()
    return float(wilcoxon(diffs, zero_method="wilcox", method="exact").pvalue) if np.any(diffs) else 1.0


def main(path: str) -> None:
    table = load(path)
    columns = ("precision", "recall", "f1")
    print(f"Test split, mean ± std over {table['seed'].nunique()} seeds")
    print("| arm | macro precision | macro recall | macro F1 | micro F1 | Hamming loss | subset accuracy |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for arm in ARMS:
        macro, micro = pick(table, arm, "macro"), pick(table, arm, "micro")
        values = [macro[c] for c in columns] + [micro["f1"], macro["hamming_loss"], macro["subset_accuracy"]]
        print(f"| {arm} | " + " | ".join(f"{v.mean():.3f} ± {v.std(ddof=1):.3f}" for v in values) + " |")
    print("\nEach arm minus bce (fixed rule), macro rows, points; Wilcoxon exact two-sided p, paired by seed")
    base = pick(table, "bce", "macro")
    for arm in list(ARMS)[1:]:
        other = pick(table, arm, "macro")
        parts = [
            f"{c} {100 * (other[c].mean() - base[c].mean()):+.1f} (p={p_value(other[c], base[c]):.4f})"
            for c in ("recall", "precision")
        ]
        print(f"- {arm}: " + ", ".join(parts))
    print("\nwbce auto minus bce (fixed rule), label by label: points and Wilcoxon exact p")
    print(
        "| label | ratio (test) | bce recall | wbce recall | Δ recall | p "
        "| bce precision | wbce precision | Δ precision | p |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    labels = [label for label in dict.fromkeys(table["label"]) if label not in ("macro", "micro")]
    for label in labels:
        a, b = pick(table, "wbce auto", label), pick(table, "bce", label)
        ratio = (b["tn"] + b["fp"]).mean() / (b["tp"] + b["fn"]).mean()
        cells = [f"{ratio:.2f}"]
        for c in ("recall", "precision"):
            cells += [f"{b[c].mean():.3f}", f"{a[c].mean():.3f}", f"{100 * (a[c].mean() - b[c].mean()):+.1f}"]
            cells.append(f"{p_value(a[c], b[c]):.4f}")
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "runs/mulan-yeast/results.csv")
