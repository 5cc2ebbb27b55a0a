"""Run folders -> one long results table (one row per run x split x threshold rule).

The table is always rebuilt from the run folders themselves, so a sweep's ``results.csv`` can never disagree
with the runs it describes: a resumed, extended or partly deleted sweep simply gets a new table.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from hfa import io
from hfa.errors import HfaError
from hfa.metrics import METRIC_COLUMNS

RUN_FILE = "run.json"
CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.csv"
RESULTS_FILE = "results.csv"

ID_COLUMNS = ("run_id", "name", "status", "error", "loss")
ROW_COLUMNS = ("split", "rule", "threshold")
LABEL_COLUMN = "label"  # multi-label runs: a row per label, plus "macro" and "micro" (metrics_multilabel)
# Keys a results table always carries, varying or not: without them a row cannot be read on its own.
ALWAYS_KEYS = ("seed", "loss.name", "data.imbalance_ratio")
# Config keys that are not settings of the run: `name` is already an id column, `sweep` is the grid itself.
_SKIPPED_CONFIG_KEYS = ("name", "sweep")
# libyaml's safe loader is ~10x faster than the pure-Python one, which matters across hundreds of runs.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def find_runs(root: str | Path) -> list[Path]:
    """Every folder at or below ``root`` holding a ``run.json``, sorted by path."""
    root = Path(root)
    runs: list[Path] = []
    if root.is_dir():
        runs = sorted(p.parent for p in root.rglob(RUN_FILE) if p.is_file() and not _hidden(p.relative_to(root)))
    if not runs:
        reason = "" if root.is_dir() else (" (not a folder)" if root.exists() else " (no such folder)")
        raise HfaError(f"no runs under {root}{reason} (expected folders with {RUN_FILE} written by hfa train/sweep)")
    return runs


def _hidden(relative: Path) -> bool:
    # A run being written lives in a hidden staging folder (".<run-id>.xxxx") until it is renamed into place.
    return any(part.startswith(".") for part in relative.parts)


def collect_results(root: str | Path) -> pd.DataFrame:
    """One row per run and metrics row (split x rule); a run that did not finish gives one row, split empty.

    Columns: ``run_id, name, status, error, loss``, every config key flattened to a dotted column (lists as
    strings such as ``"[64, 64]"``), then ``split, rule, threshold`` and the metric columns.
    """
    records: list[dict[str, Any]] = []
    settings: dict[str, None] = {}
    for folder in find_runs(root):
        rows, keys = _run_records(folder)
        records.extend(rows)
        settings.update(dict.fromkeys(keys))
    # One frame built from plain records: far cheaper than a frame per run for sweeps of hundreds of runs.
    table = pd.DataFrame.from_records(records)
    return table[_ordered_columns(table, list(settings))]


def config_columns(df: pd.DataFrame) -> list[str]:
    """The config columns of a results table: those between ``loss`` and ``split``."""
    columns = list(df.columns)
    if "loss" not in columns or "split" not in columns:
        raise HfaError("not a results table: it needs the columns 'loss' and 'split' (from collect_results)")
    return columns[columns.index("loss") + 1 : columns.index("split")]


def metric_columns(df: pd.DataFrame) -> list[str]:
    """The metric columns of a results table: those after ``threshold``."""
    columns = list(df.columns)
    if "threshold" not in columns:
        raise HfaError("not a results table: it needs the column 'threshold' (from collect_results)")
    return columns[columns.index("threshold") + 1 :]


def run_table(df: pd.DataFrame) -> pd.DataFrame:
    """One row per run (its first row), for questions about runs rather than metrics rows."""
    identity = [c for c in ("name", "run_id") if c in df.columns]
    return df.drop_duplicates(subset=identity)


def varying_keys(df: pd.DataFrame) -> list[str]:
    """Config columns whose values differ between runs (missing counts as a value), in config order."""
    runs = run_table(df)
    return [key for key in config_columns(df) if runs[key].nunique(dropna=False) > 1]


def results_frame(root: str | Path, keys: Sequence[str] | None = None) -> pd.DataFrame:
    """The sweep table: ``run_id, status, error, loss``, the keys, ``split, rule, threshold``, the metrics.

    ``keys`` defaults to the config keys that vary between runs; ``seed``, ``loss.name`` and
    ``data.imbalance_ratio`` are always included. Keys keep config order.
    """
    table = collect_results(root)
    available = config_columns(table)
    wanted = set(varying_keys(table) if keys is None else _checked_keys(keys, available))
    wanted.update(k for k in ALWAYS_KEYS if k in available)
    chosen = [k for k in available if k in wanted]
    leading = [c for c in ID_COLUMNS if c != "name"]
    rows = [c for c in table.columns if c in (*ROW_COLUMNS, LABEL_COLUMN)]
    return table[[*leading, *chosen, *rows, *metric_columns(table)]]


def write_results(root: str | Path, keys: Sequence[str] | None = None) -> Path:
    """Rebuild ``<root>/results.csv`` from the run folders below ``root`` (atomically) and return its path."""
    return io.write_csv(Path(root) / RESULTS_FILE, results_frame(root, keys))


def _checked_keys(keys: Iterable[str], available: Sequence[str]) -> list[str]:
    keys = list(keys)
    unknown = [k for k in keys if k not in available]
    if unknown:
        raise HfaError(f"unknown config key {unknown[0]!r}; available: {', '.join(available)}")
    return keys


def _run_records(folder: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The run's rows as records, and its config keys (config order)."""
    run = _read_json(folder / RUN_FILE)
    status = str(run.get("status", "unknown"))
    config = _read_config(folder / CONFIG_FILE, required=status == "ok")
    ids = {
        "run_id": str(run.get("run_id", folder.name)),
        "name": run.get("name", config.get("name")),
        "status": status,
        "error": run.get("error"),
        # Older or hand-made runs may lack the label; the loss name is the next best identity.
        "loss": run.get("loss_label") or config.get("loss", {}).get("name"),
    }
    settings = flatten_config(config)
    head = {**ids, **settings}
    if status != "ok":
        return [{**head, **dict.fromkeys(ROW_COLUMNS)}], list(settings)
    return [{**head, **row} for row in _read_metrics(folder / METRICS_FILE)], list(settings)


def flatten_config(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested config -> ``{"data.imbalance_ratio": 10.0, "model.hidden": "[64, 64]", ...}``.

    Lists become their JSON text so that they are hashable, comparable and survive a CSV round trip.
    """
    flat: dict[str, Any] = {}
    for key, value in config.items():
        if not prefix and key in _SKIPPED_CONFIG_KEYS:
            continue
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_config(value, prefix=f"{dotted}."))
        elif isinstance(value, list | tuple):
            flat[dotted] = json.dumps(list(value))
        else:
            flat[dotted] = value
    return flat


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise HfaError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise HfaError(f"{path} must hold a JSON object (got {type(data).__name__})")
    return data


def _read_config(path: Path, required: bool) -> dict[str, Any]:
    if not path.is_file():
        # A run that failed early may have no config; a finished one without it cannot be grouped.
        if required:
            raise HfaError(f"{path} is missing: a run with status ok must record its resolved config")
        return {}
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    except (OSError, yaml.YAMLError) as exc:
        raise HfaError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise HfaError(f"{path} must hold a YAML mapping (got {type(data).__name__})")
    return data


def _read_metrics(path: Path) -> list[dict[str, Any]]:
    """metrics.csv rows with numbers parsed (an empty cell, such as the mean rule's threshold, is missing)."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, csv.Error, UnicodeDecodeError) as exc:
        raise HfaError(f"cannot read {path} (a run with status ok must have one): {exc}") from None
    missing = [c for c in ROW_COLUMNS if not rows or c not in rows[0]]
    if missing:
        raise HfaError(f"{path} lacks the column(s) {', '.join(missing)}; expected {', '.join(ROW_COLUMNS)}")
    text = ("split", "rule", LABEL_COLUMN)
    return [{k: v if k in text else _number(v, path, k) for k, v in row.items()} for row in rows]


def _number(text: str | None, path: Path, column: str) -> int | float | None:
    if text is None or text == "":
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise HfaError(f"{path}: column {column!r} holds {text!r}, expected a number") from None


def _ordered_columns(table: pd.DataFrame, settings: Sequence[str]) -> list[str]:
    """Ids, config keys (first-seen order), row columns, then metrics (the usual order, extras after)."""
    rows = [*ROW_COLUMNS[:2], LABEL_COLUMN, *ROW_COLUMNS[2:]] if LABEL_COLUMN in table.columns else ROW_COLUMNS
    placed = {*ID_COLUMNS, *settings, *rows}
    known = [m for m in METRIC_COLUMNS if m in table.columns]
    extras = [c for c in table.columns if c not in placed and c not in known]
    return [*ID_COLUMNS, *settings, *rows, *known, *extras]
