"""Run folders -> the rows a report is made of, and the keys that make a row.

A row of a report is one combination of every config key that varies across the runs except the replicate
keys (the seeds), with the data set always among them: rows never average over settings that differ unless
the user asks for it with ``--by``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from hfa.errors import HfaError
from hfa.metrics import fbeta_column, is_count_metric, tuned_rule_beta
from hfa.results import (
    FINGERPRINT_KEY,
    RULES,
    SPLITS,
    collect_results,
    config_columns,
    metric_columns,
    run_infos,
    run_table,
    unique_runs,
    varying_keys,
)

DEFAULT_RULES = ("fixed", "tuned")
# A seed is a replicate, not a setting: rows average over seeds and pairs are matched on them. So is a k-fold's
# fold (data.fold): rows average over seeds x folds, and a run's partner shares its seed and fold.
FOLD_KEY = "data.fold"
REPLICATE_KEYS = ("seed", "data.seed", FOLD_KEY)
# Keys that add rows to metrics.csv without changing any other number: a run with them pairs with one without.
ADDITIVE_KEYS = ("eval.tune_betas",)
DATA_KEY = "data.name"
RATIO_KEY = "data.imbalance_ratio"
LOSS_KEY = "loss"
MODEL_KEY = "model.name"
# Multi-label runs have one results row per label (and macro / micro rows, their averages): the label is a row
# key that is never pooled, and a run's partner is the baseline run's row of the same label.
LABEL_KEY = "label"
AGGREGATE_LABELS = ("macro", "micro")
BASE_METRICS = ("precision", "recall")
# With loss.*, what a method label names (hfa.methods): the key, and its value in a run that is an MLP's loss alone.
METHOD_DEFAULTS = {"model.name": "mlp", "data.resample": "none"}
METHOD_KEYS = tuple(METHOD_DEFAULTS)


@dataclass
class Runs:
    """What a report reads: the long results table, one row per run folder, and the loaded root."""

    table: pd.DataFrame
    infos: pd.DataFrame
    root: Path

    @property
    def ok(self) -> pd.DataFrame:
        return self.table[self.table["status"] == "ok"]

    def folders(self) -> dict[tuple[str, str], str]:
        """(name, run_id) -> folder."""
        return {(r.name, r.run_id): r.folder for r in self.infos.itertuples(index=False)}


def load_runs(
    root: str | Path, metrics: Iterable[str] = (), labels: Sequence[str] = (), only: Iterable[Path] | None = None
) -> Runs:
    """Every run below ``root`` (or those of its folders in ``only``: a tune's current final runs, not the ones an
    earlier plan left), with the count metrics named in ``metrics`` filled in for every run.

    ``labels`` keeps only those rows of multi-label runs (``macro``, ``micro`` or a target column); an unknown
    label is an HfaError naming the labels there are.
    """
    found = unique_runs(root)  # listed and read once for the table and the folders
    if only is not None:
        wanted = {Path(p).absolute() for p in only}
        found = [(folder, run) for folder, run in found if folder.absolute() in wanted]
    table = collect_results(root, metrics=[m for m in metrics if is_count_metric(m)], runs=found)
    if labels:
        present = list(dict.fromkeys(table[LABEL_KEY].dropna())) if is_multilabel(table) else []
        if not present:
            raise HfaError("--label selects rows of multi-label runs, and these runs have one target")
        for label in labels:
            if label not in present:
                raise HfaError(f"unknown label {label!r}; the runs have: {', '.join(map(str, present))}")
        # Failed runs have no label rows; they stay, so the report still counts them.
        keep = table[LABEL_KEY].isin(list(labels)) | (table["status"] != "ok")
        table = table[keep].reset_index(drop=True)
    return Runs(table=table, infos=run_infos(root, runs=found), root=Path(root))


def has_rule(df: pd.DataFrame, rule: str) -> bool:
    return bool((df["rule"] == rule).any())


def is_multilabel(df: pd.DataFrame) -> bool:
    return LABEL_KEY in df.columns and bool(df[LABEL_KEY].notna().any())


def label_order(df: pd.DataFrame) -> dict[str, int]:
    """Labels in target order (as results.csv lists them), the averages last."""
    labels = [str(v) for v in dict.fromkeys(df[LABEL_KEY].dropna())] if is_multilabel(df) else []
    ordered = [v for v in labels if v not in AGGREGATE_LABELS] + [v for v in AGGREGATE_LABELS if v in labels]
    return {label: i for i, label in enumerate(ordered)}


def select_rows(df: pd.DataFrame, split: str, rule: str) -> pd.DataFrame:
    """Rows of successful runs at one split and threshold rule; HfaError if the choice is invalid or empty."""
    if split not in SPLITS:
        raise HfaError(f"unknown split {split!r}; allowed: {', '.join(SPLITS)}")
    if rule not in RULES and tuned_rule_beta(rule) is None:
        raise HfaError(f"unknown rule {rule!r}; allowed: {', '.join(RULES)}, tuned_f<beta> (eval.tune_betas)")
    ok = df[df["status"] == "ok"]
    rows = ok[(ok["split"] == split) & (ok["rule"] == rule)]
    if rows.empty:
        n_runs = df["run_id"].nunique()
        n_ok = ok["run_id"].nunique()
        raise HfaError(f"no {split}/{rule} rows among the {n_ok} successful run(s) of {n_runs}")
    return rows


def group_columns(df: pd.DataFrame) -> list[str]:
    """What a table may be grouped by: the loss label, the experiment name, the label and every config key."""
    label = [LABEL_KEY] if is_multilabel(df) else []
    return [c for c in (LOSS_KEY, "name") if c in df.columns] + label + config_columns(df)


def with_label(df: pd.DataFrame, keys: Sequence[str]) -> list[str]:
    """``keys`` with what is never pooled added after the data set (or first): the label of multi-label runs, and
    the data's fingerprint where runs that ``keys`` would pool saw different data (an edited table)."""
    keys = list(keys)
    at = keys.index(DATA_KEY) + 1 if DATA_KEY in keys else 0
    if _data_differs(df, keys):
        keys.insert(at, FINGERPRINT_KEY)
    if not is_multilabel(df) or LABEL_KEY in keys:
        return keys
    return [*keys[:at], LABEL_KEY, *keys[at:]]


def _data_differs(df: pd.DataFrame, keys: Sequence[str]) -> bool:
    if FINGERPRINT_KEY in keys or FINGERPRINT_KEY not in df.columns:
        return False
    runs = run_table(df[df["status"] == "ok"])
    grouped = [k for k in keys if k in runs.columns]
    if runs.empty:
        return False
    if not grouped:
        return runs[FINGERPRINT_KEY].nunique(dropna=False) > 1
    return bool((runs.groupby(grouped, dropna=False)[FINGERPRINT_KEY].nunique(dropna=False) > 1).any())


def check_columns(names: Sequence[str], available: Sequence[str], kind: str) -> None:
    if not names:
        raise HfaError(f"at least one {kind} is needed; available: {', '.join(available)}")
    for name in names:
        if name not in available:
            raise HfaError(f"unknown {kind} {name!r}; available: {', '.join(available)}")


def check_metrics(df: pd.DataFrame, metrics: Sequence[str]) -> None:
    for metric in metrics:
        if metric not in metric_columns(df):
            known = ", ".join(metric_columns(df))
            raise HfaError(f"unknown metric {metric!r}; available: {known}, or any f<beta> such as f2, f0.5")


def row_keys(df: pd.DataFrame) -> list[str]:
    """The default row keys: data set, loss, then every other varying key that is not a seed or redundant.

    A loss setting is redundant when the loss label decides it (``loss.name`` and ``loss.beta`` given
    ``fbeta(beta=2)``), a data setting when the data set decides it (``data.n_samples`` of a KEEL set): it
    would add a column but no row. Any other varying key is shown, even where it happens to follow the loss
    (f1 run at another learning rate than bce must say so).
    """
    ok = run_table(df[df["status"] == "ok"])
    if ok.empty:
        return [DATA_KEY, LOSS_KEY] if DATA_KEY in df.columns else [LOSS_KEY]
    varying = [k for k in varying_keys(ok) if k not in (*REPLICATE_KEYS, *ADDITIVE_KEYS)]
    keys = [k for k in (DATA_KEY,) if k in ok.columns]
    if "name" in ok.columns and ok["name"].nunique(dropna=False) > 1:
        keys.append("name")
    keys += [LOSS_KEY, *(k for k in varying if k not in keys)]
    return with_label(df, [k for k in keys if not _redundant(ok, k)])


def method_keys(runs: pd.DataFrame) -> list[str]:
    """The config keys the ``loss`` column's method label decides (``hfa.methods.method_label``): the loss's own
    (``loss.*``), the model and the resampler, and a model or training setting that some runs lack, which belongs
    to one model (``model.hidden`` and ``train.epochs`` of the MLP are absent from a gbdt run)."""

    def partial(key: str) -> bool:
        return bool(runs[key].isna().any() and runs[key].notna().any())

    return [
        k
        for k in config_columns(runs)
        if k.startswith("loss.") or k in METHOD_KEYS or (k.startswith(("model.", "train.")) and partial(k))
    ]


def has_methods(df: pd.DataFrame) -> bool:
    """Whether some successful run is more than an MLP's loss: another model or a resampled training split."""
    ok = df[df["status"] == "ok"]
    return any((ok[key].dropna() != default).any() for key, default in METHOD_DEFAULTS.items() if key in ok.columns)


def _redundant(runs: pd.DataFrame, key: str) -> bool:
    if key in method_keys(runs):
        return bool((runs.groupby(LOSS_KEY, dropna=False)[key].nunique(dropna=False) <= 1).all())
    owner = {"loss.": LOSS_KEY, "data.": DATA_KEY}.get(key[:5])
    # The ratio is what a reader looks for first: shown whenever it varies, even if each data set has one.
    if owner is None or key in (DATA_KEY, RATIO_KEY, MODEL_KEY) or owner not in runs.columns:
        return False
    return bool((runs.groupby(owner, dropna=False)[key].nunique(dropna=False) <= 1).all())


def match_keys(df: pd.DataFrame, baseline: str | None = None) -> list[str]:
    """What a run and its baseline partner must share: every varying key but the method's own (``method_keys``:
    the loss's, the model's, the resampler)."""
    ok = run_table(df[df["status"] == "ok"])
    owned = method_keys(ok)
    keys = [k for k in varying_keys(ok) if k not in owned and k not in ADDITIVE_KEYS]
    if "name" in ok.columns and ok["name"].nunique(dropna=False) > 1:
        keys.append("name")
    return with_label(df, keys)


def pooled_keys(df: pd.DataFrame, by: Sequence[str]) -> list[str]:
    """Config keys besides the seeds that vary *inside* some row of ``by``: the rows average over them."""
    runs = run_table(df[df["status"] == "ok"])
    if runs.empty:
        return []
    skip = {*by, *REPLICATE_KEYS, *ADDITIVE_KEYS}
    candidates = [k for k in varying_keys(runs) if k not in skip]
    if "name" in runs.columns and "name" not in by:
        candidates.append("name")
    grouped = runs.groupby(list(by), dropna=False)
    return [k for k in candidates if (grouped[k].nunique(dropna=False) > 1).any()]


def trained_fscores(df: pd.DataFrame) -> list[str]:
    """``f1`` and ``f<beta>`` of every beta the runs' losses train for (fbeta's ``loss.beta``)."""
    ok = run_table(df[df["status"] == "ok"])
    betas: set[float] = set()
    if "loss.name" in ok.columns and "loss.beta" in ok.columns:
        betas = {float(b) for b in ok.loc[ok["loss.name"] == "fbeta", "loss.beta"].dropna()}
    return list(dict.fromkeys(["f1", *(fbeta_column(b) for b in sorted(betas))]))


def default_metrics(df: pd.DataFrame) -> list[str]:
    return [*BASE_METRICS, *trained_fscores(df)]
