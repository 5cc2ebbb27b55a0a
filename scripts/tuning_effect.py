"""What tuning changed in the fair KEEL study: each method's tuned choice against its own untuned settings.

The contest's final runs (configs/keel-contest.yaml, ``hfa tune``) and its untuned twin
(configs/keel-contest-defaults.yaml, ``hfa sweep``) train every method on the same partitions: the same data set,
seed and fold. Per method and threshold rule, this pairs them partition by partition, averages the test metric per
data set (the unit the study ranks on), and tests the per-set differences across data sets with the two-sided
Wilcoxon signed-rank test, Holm-corrected over the methods of a rule: the same statistics as ``hfa report``
(hfa.report.stats).

    python scripts/tuning_effect.py TUNED_FINAL_ROOT DEFAULTS_ROOT --out docs/experiments/keel-contest/tuning-effect.csv
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from hfa.report.stats import holm, wilcoxon_test
from hfa.results import collect_results

PAIR = ["data.name", "seed", "data.fold"]  # one partition: the unit two runs are paired on
METHOD_KEYS = ("model.name", "loss.name", "data.resample", "loss.beta")
RULES = ("fixed", "tuned")


def test_rows(root: Path, metric: str) -> pd.DataFrame:
    """Test-split rows of the finished runs: method label (``loss``), partition, rule and the metric."""
    table = collect_results(root)
    rows = table[(table["status"] == "ok") & (table["split"] == "test") & table["rule"].isin(RULES)]
    # A method is what its settings make it (model, loss, resampler, beta): the labels of tuned runs also carry
    # each run's tuned loss parameters, so they cannot pair a tuned run with its untuned twin.
    kind = [rows.get(key, pd.Series("-", index=rows.index)).map(_text) for key in METHOD_KEYS]
    rows = rows.assign(method=["|".join(parts) for parts in zip(*kind, strict=True)])
    rows = rows[["name", "loss", "method", *PAIR, "rule", metric]]
    clash = rows.duplicated(["method", *PAIR, "rule"])
    if clash.any():
        raise SystemExit(f"{root}: two runs of one method on one partition, e.g. {rows[clash].iloc[0].to_dict()}")
    return rows


def _text(value: object) -> str:
    """A setting as one text in both studies: a number as a float (2 and 2.0 alike), a missing one as '-'."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "-"
    return str(float(value)) if isinstance(value, int | float) and not isinstance(value, bool) else str(value)


def effect(tuned: pd.DataFrame, defaults: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One row per rule and method: per-set means untuned and tuned, wins/losses/ties, Wilcoxon p and Holm p."""
    keys = ["method", *PAIR, "rule"]
    # The tune study names each method (its runs' `name`); the twin's runs share one name, and their label (`loss`)
    # is the method's plain label.
    names = tuned.drop_duplicates("method").set_index("method")["name"]
    labels = defaults.drop_duplicates("method").set_index("method")["loss"]
    if tuned.drop_duplicates(["method", "name"]).shape[0] != len(names):
        raise SystemExit("one method of the tune study has several names")
    both = tuned.drop(columns=["name", "loss"]).merge(
        defaults.drop(columns=["name", "loss"]), on=keys, suffixes=("_tuned", "_default"), validate="one_to_one"
    )
    per_set = both.groupby(["rule", "method", "data.name"])[[f"{metric}_tuned", f"{metric}_default"]].mean()
    per_set["delta"] = per_set[f"{metric}_tuned"] - per_set[f"{metric}_default"]
    partitions = both.groupby(["rule", "method", "data.name"]).size()
    records = []
    for (rule, method), sets in per_set.groupby(level=["rule", "method"]):
        delta = sets["delta"].dropna()
        records.append(
            {
                "rule": rule,
                "method": names[method],
                "label": labels[method],
                "metric": metric,
                "n_sets": int(delta.size),
                "partitions_per_set": int(partitions.loc[(rule, method)].min()),
                "default_mean": float(sets[f"{metric}_default"].mean()),
                "tuned_mean": float(sets[f"{metric}_tuned"].mean()),
                "delta": float(delta.mean()),
                "wins": int((delta > 0).sum()),
                "losses": int((delta < 0).sum()),
                "ties": int((delta == 0).sum()),
                "p": wilcoxon_test(delta.to_numpy()).p,
            }
        )
    out = pd.DataFrame.from_records(records)
    out["p_holm"] = np.nan
    for rule in out["rule"].unique():
        at = out["rule"] == rule
        out.loc[at, "p_holm"] = holm(out.loc[at, "p"].to_numpy())
    return out.sort_values(["rule", "delta"], ascending=[True, False]).reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tuned", type=Path, help="the contest's final runs (OUT/keel-contest/final)")
    parser.add_argument("defaults", type=Path, help="the untuned twin's runs (OUT/keel-contest-defaults)")
    parser.add_argument("--metric", default="f1")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    tuned, defaults = test_rows(args.tuned, args.metric), test_rows(args.defaults, args.metric)
    missing = set(tuned["method"]) ^ set(defaults["method"])
    if missing:
        raise SystemExit(f"methods in one study only: {', '.join(sorted(missing))}")
    table = effect(tuned, defaults, args.metric)
    table.to_csv(args.out, index=False, float_format="%.6g")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
