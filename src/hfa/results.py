"""Run folders -> one long results table (one row per run x split x threshold rule).

The table is always rebuilt from the run folders themselves, so a sweep's ``results.csv`` can never disagree
with the runs it describes: a resumed, extended or partly deleted sweep simply gets a new table.

Reports do not verify the sha256s run.json records of a run's files (``hfa.rundir.verify_files``): they read
metrics over thousands of runs, and each reader here checks what it reads instead; ``hfa predict`` verifies them.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from io import StringIO
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from hfa import io
from hfa.errors import HfaError, clip
from hfa.methods import config_method_label
from hfa.metrics import (
    AUTHORS_THRESHOLDS,
    COUNT_COLUMNS,
    count_metric,
    fbeta_column,
    fbeta_of,
    is_count_metric,
    tuned_rule_beta,
)
from hfa.metrics import metric_columns as metrics_columns_for
from hfa.metrics_multilabel import zero_in_macro
from hfa.rundir import (
    CONFIG_FILE,
    CURVES_FILE,
    METRICS_FILE,
    RESULTS_FILE,
    RUN_FILE,
    read_settled,
    run_json_problem,
    swapped_run,
    wait_for_swap,
)

SPLITS = ("val", "test")  # the splits a run's metrics.csv holds rows for
RULES = ("fixed", "tuned", "mean")  # its threshold rules, besides tuned_f<beta> (eval.tune_betas)
FINGERPRINT_KEY = "data.fingerprint"  # from run.json: the data the run saw (hfa.data.fingerprint)

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
        # A wildcard, so that entries which are not files (a link to nowhere) are listed too: a literal name is
        # listed only where it exists.
        entries = [p for p in root.rglob(f"{RUN_FILE}*") if p.name == RUN_FILE]
        for entry in entries:  # a run that cannot be read must not vanish from the counts: say what it is
            if not _hidden(entry.parent.relative_to(root)) and not entry.is_file():
                try:
                    io.read_regular(entry)  # raises, naming a folder, a FIFO or a device
                except OSError as exc:  # a link to nowhere, or to itself
                    raise HfaError(f"cannot read {entry}: {exc.strerror or exc}; was it replaced by hand?") from None
        found = [p.parent for p in entries if p.is_file()]
        runs = [f for f in found if not _hidden(f.relative_to(root))]
        # A run being swapped in (--force in another process) is, for a moment, only its aside copy: count it once
        # the swap is done.
        swapped = {r for f in found if (r := swapped_run(f)) is not None and not _hidden(r.relative_to(root))}
        for run in swapped - set(runs):
            wait_for_swap(run)
            if (run / RUN_FILE).is_file():
                runs.append(run)
        runs.sort()
    if not runs:
        reason = "" if root.is_dir() else (" (not a folder)" if root.exists() else " (no such folder)")
        raise HfaError(f"no runs under {root}{reason} (expected folders with {RUN_FILE} written by hfa train/sweep)")
    return runs


def _hidden(relative: Path) -> bool:
    # A run being written lives in a hidden staging folder (".<run-id>.xxxx") until it is renamed into place.
    return any(part.startswith(".") for part in relative.parts)


def collect_results(
    root: str | Path, metrics: Iterable[str] = (), runs: Sequence[tuple[Path, dict[str, Any]]] | None = None
) -> pd.DataFrame:
    """One row per run and metrics row (split x rule); a run that did not finish gives one row, split empty.

    Columns: ``run_id, name, status, error, loss``, every config key flattened to a dotted column (lists as
    strings such as ``"[64, 64]"``), then ``split, rule, threshold`` and the metric columns.

    Every ``f<beta>`` column that any run recorded, and every count metric named in ``metrics`` (``f3``,
    ``npv``...), is filled for every run from its counts (its ``curves.csv`` for the ``mean`` rule), so a
    column holds one metric for every row. A ``mean`` value stays missing for a run without ``curves.csv``.
    """
    records: list[dict[str, Any]] = []
    settings: dict[str, None] = {}
    folders: list[Path] = []
    for folder, run in unique_runs(root) if runs is None else runs:
        rows, keys = _settled_records(folder, run)
        records.extend(rows)
        folders.extend([folder] * len(rows))
        settings.update(dict.fromkeys(keys))
    recorded = {k for record in records for k in record}
    wanted = [m for m in dict.fromkeys([*sorted(c for c in recorded if _is_fscore(c)), *metrics]) if is_count_metric(m)]
    _fill_count_metrics(records, folders, wanted)
    # One frame built from plain records: far cheaper than a frame per run for sweeps of hundreds of runs.
    table = pd.DataFrame.from_records(records)
    return table[_ordered_columns(table, list(settings))]


def _is_fscore(column: str) -> bool:
    return fbeta_of(column) is not None


def _fill_count_metrics(records: list[dict[str, Any]], folders: list[Path], wanted: Sequence[str]) -> None:
    """Fill each wanted count metric a run did not record: from the row's counts, or curves.csv for ``mean``.

    A multi-label run's ``macro`` row holds the mean of its labels' counts, from which no rate follows (F-beta of
    mean counts is the micro F-beta): it gets the mean of its label rows' values instead, as its recorded columns
    do (an undefined precision, recall or F-beta counted as 0, scikit-learn's macro average).
    """
    curves: dict[Path, pd.DataFrame | None] = {}
    macro: list[tuple[dict[str, Any], Path, list[str]]] = []
    labels: dict[tuple[Path, Any, Any], list[dict[str, Any]]] = {}
    for record, folder in zip(records, folders, strict=True):
        missing = [m for m in wanted if m not in record]
        if not missing or record.get("split") is None:
            continue
        label = record.get("label")
        if label == "macro":
            macro.append((record, folder, missing))
            continue
        if isinstance(label, str) and label != "micro":
            labels.setdefault((folder, record["split"], record.get("rule")), []).append(record)
        if record.get("rule") == "mean":
            if folder not in curves:
                curves[folder] = read_settled(folder, lambda f=folder: _read_curves(f / CURVES_FILE, settled=True))
            values = _mean_rule_values(curves[folder], record["split"], missing)
        else:
            counts = [record.get(c) for c in COUNT_COLUMNS]
            values = {m: _count_value(m, counts) for m in missing}
        record.update(values)
    for record, folder, missing in macro:
        rows = labels.get((folder, record["split"], record.get("rule")), [])
        for metric in missing:
            values = np.array([row.get(metric, np.nan) for row in rows], dtype=float)
            if zero_in_macro(metric):
                values = np.nan_to_num(values, nan=0.0)
            defined = values[~np.isnan(values)]
            record[metric] = float(defined.mean()) if defined.size else float("nan")


def _count_value(metric: str, counts: Sequence[Any]) -> float:
    if any(c is None for c in counts):
        return float("nan")
    return float(count_metric(metric, *counts))


def _mean_rule_values(curves: pd.DataFrame | None, split: str, metrics: Sequence[str]) -> dict[str, float]:
    """The authors' rule for a metric the run did not record: its mean over the 0.1..0.9 grid (NaN if unknown)."""
    if curves is None:
        return dict.fromkeys(metrics, float("nan"))
    grid = curves[(curves["split"] == split) & curves["threshold"].isin(AUTHORS_THRESHOLDS)]
    if len(grid) != len(AUTHORS_THRESHOLDS):
        return dict.fromkeys(metrics, float("nan"))
    counts = [grid[c].to_numpy(dtype=float) for c in COUNT_COLUMNS]
    # Undefined at any grid threshold makes the mean undefined, as metrics.evaluate's mean rows are.
    return {m: float(np.mean(count_metric(m, *counts))) for m in metrics}


def _read_curves(path: Path, settled: bool = False) -> pd.DataFrame | None:
    if not path.is_file():
        # With ``settled`` (read_settled), a run folder caught between the renames of a swap is an error to
        # retry, not a run without curves: the file is missing only if it is missing after the folder is back.
        if settled and (not path.parent.is_dir() or path.is_file()):
            raise HfaError(f"cannot read {path}: its run folder was being replaced")
        return None
    return read_run_csv(path, CURVES_COLUMNS, numeric=CURVES_COLUMNS[1:])


CURVES_COLUMNS = ("split", "threshold", *COUNT_COLUMNS)
HISTORY_COLUMNS = ("epoch",)


def read_run_csv(path: Path, columns: Sequence[str] = (), numeric: Sequence[str] = ()) -> pd.DataFrame:
    """A CSV file of a run folder (curves.csv, history.csv) holding ``columns`` (``numeric`` ones as numbers); a file
    that is not UTF-8, not CSV or lacks a column is a one-line ``HfaError`` naming it."""
    try:
        frame = pd.read_csv(path, encoding="utf-8")
    except UnicodeDecodeError:  # a ValueError: named first, as the one a user can act on
        raise HfaError(f"cannot read {path}: it is not UTF-8 text; train the run again") from None
    except (OSError, ValueError) as exc:  # pandas' parser errors are ValueErrors
        raise HfaError(f"cannot read {path}: {_one_line(exc)}; train the run again") from None
    missing = [c for c in columns if c not in frame.columns]
    wrong = [c for c in numeric if c in frame.columns and not pd.api.types.is_numeric_dtype(frame[c])]
    if missing or wrong:
        what = f"lacks the column(s) {', '.join(missing)}" if missing else f"holds text in column {wrong[0]!r}"
        raise HfaError(f"{path} {what}; expected {', '.join(columns)} (numbers); train the run again")
    return frame


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def read_curves(run_dir: str | Path) -> pd.DataFrame | None:
    """A run's ``curves.csv`` (split, threshold, tp, fp, fn, tn), or None when the run did not write one."""
    run_dir = Path(run_dir)
    return read_settled(run_dir, lambda: _read_curves(run_dir / CURVES_FILE, settled=True))


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
    """One row per run (its first row), for questions about runs rather than metrics rows. A run is its name, run
    id and data (as in :func:`unique_runs`): two experiment folders may hold the same run id trained on other data."""
    identity = [c for c in ("name", "run_id", FINGERPRINT_KEY) if c in df.columns]
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
    """Rebuild ``<root>/results.csv`` from the run folders below ``root`` (atomically) and return its path; ``root``
    must be hfa's (``hfa.rundir.claim``), so a table of the user's is never overwritten."""
    from hfa.rundir import claim

    claim(Path(root))
    return io.write_csv(Path(root) / RESULTS_FILE, results_frame(root, keys))


def _checked_keys(keys: Iterable[str], available: Sequence[str]) -> list[str]:
    keys = list(keys)
    unknown = [k for k in keys if k not in available]
    if unknown:
        raise HfaError(f"unknown config key {unknown[0]!r}; available: {', '.join(available)}")
    return keys


def unique_runs(root: str | Path) -> list[tuple[Path, dict[str, Any]]]:
    """Every run folder below ``root`` with its run.json, each run once: a copy of a run (a sweep folder copied
    inside the runs folder) has the same name, run id and data, and is the same replicate, not another."""
    seen: set[tuple[str, ...]] = set()
    runs = []
    for folder in find_runs(root):
        run = read_settled(folder, lambda f=folder: _read_json(f / RUN_FILE))
        _check_sections(run, folder / RUN_FILE)
        identity = (str(run.get("name")), str(run.get("run_id", folder.name)), str(_fingerprint(run)))
        if identity not in seen:
            seen.add(identity)
            runs.append((folder, run))
    return runs


def _check_sections(run: Mapping[str, Any], path: Path) -> None:
    problem = run_json_problem(run)
    if problem is not None:
        raise HfaError(f"{path}: {problem}; was it edited by hand? train the run again")


def _fingerprint(run: Mapping[str, Any]) -> str | None:
    data = run.get("data")
    value = data.get("fingerprint") if isinstance(data, Mapping) else None
    return value if isinstance(value, str) else None


def _settled_records(folder: Path, run: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """_run_records, read again from a fresh run.json when the folder was swapped in while it was read."""
    first = [run]

    def read() -> tuple[list[dict[str, Any]], list[str]]:
        return _run_records(folder, first.pop() if first else _read_json(folder / RUN_FILE))

    return read_settled(folder, read)


def _run_records(folder: Path, run: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """The run's rows as records, and its config keys (config order, then the data's fingerprint)."""
    status = str(run.get("status", "unknown"))
    config = _read_config(folder / CONFIG_FILE, required=status == "ok", digest=_digest(run, CONFIG_FILE))
    ids = {
        "run_id": str(run.get("run_id", folder.name)),
        "name": run.get("name", config.get("name")),
        "status": status,
        "error": run.get("error"),
        # Older or hand-made runs may lack the label; the loss name is the next best identity. The column names the
        # method: an MLP by its loss, other models and resampled training splits by more (hfa.methods).
        "loss": config_method_label(config, run.get("loss_label") or _section(config, "loss", folder).get("name")),
    }
    # The data a run saw is a setting like any other: runs of different data never share a report row.
    settings = {**flatten_config(config), FINGERPRINT_KEY: _fingerprint(run)}
    head = {**ids, **settings}
    if status != "ok":
        return [{**head, **dict.fromkeys(ROW_COLUMNS)}], list(settings)
    rows = [_named_fbeta(row, config) for row in _read_metrics(folder / METRICS_FILE, _digest(run, METRICS_FILE))]
    return [{**head, **row} for row in rows], list(settings)


def _named_fbeta(row: dict[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """Runs written before one-metric-per-column have ``fbeta`` at the config's ``loss.beta``: name it ``f<beta>``."""
    if "fbeta" not in row:
        return row
    value = row.pop("fbeta")
    beta = config.get("loss", {}).get("beta")
    if isinstance(beta, int | float) and beta > 0:
        row.setdefault(fbeta_column(beta), value)
    return row


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


def _section(config: Mapping[str, Any], name: str, folder: Path) -> Mapping[str, Any]:
    section = config.get(name, {})
    if not isinstance(section, Mapping):
        raise HfaError(
            f"{folder / CONFIG_FILE}: '{name}' must be a mapping of settings (got {type(section).__name__}); "
            "was the file edited by hand?"
        )
    return section


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(io.read_regular(path).decode("utf-8"))
    except RecursionError:
        raise HfaError(
            f"cannot read {path}: it nests deeper than any run.json hfa writes; was it edited by hand?"
        ) from None
    except UnicodeDecodeError:
        raise HfaError(f"cannot read {path}: it is not UTF-8 text; was it edited by hand?") from None
    except HfaError:
        raise
    except (OSError, ValueError) as exc:
        raise HfaError(f"cannot read {path}: {_one_line(exc)}") from None
    if not isinstance(data, dict):
        raise HfaError(f"{path} must hold a JSON object (got {type(data).__name__})")
    return data


def _digest(run: Mapping[str, Any], name: str) -> str | None:
    """The sha256 run.json recorded for ``name`` when the run was written (runs before hashes record none)."""
    files = run.get("files")
    digest = files.get(name) if isinstance(files, Mapping) else None
    return digest if isinstance(digest, str) else None


def _read_own(path: Path, digest: str | None) -> str:
    """A run file's text, checked against the sha256 its run.json recorded: an edited metrics.csv or config.yaml
    would otherwise be reported as the run's numbers."""
    data = io.read_regular(path)
    if digest is not None and hashlib.sha256(data).hexdigest() != digest:
        raise HfaError(
            f"{path} was changed after the run was written (its sha256 differs from {RUN_FILE}'s); train the run again"
        )
    return data.decode("utf-8-sig")


def _read_config(path: Path, required: bool, digest: str | None = None) -> dict[str, Any]:
    if not path.is_file():
        # A run that failed early may have no config; a finished one without it cannot be grouped.
        if required:
            raise HfaError(f"{path} is missing: a run with status ok must record its resolved config")
        return {}
    try:
        data = yaml.load(_read_own(path, digest), Loader=_YAML_LOADER)
    except UnicodeDecodeError:
        raise HfaError(f"cannot read {path}: it is not UTF-8 text; was it edited by hand?") from None
    except HfaError:
        raise
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise HfaError(f"cannot read {path}: {_one_line(exc)}") from None
    if not isinstance(data, dict):
        raise HfaError(f"{path} must hold a YAML mapping (got {type(data).__name__})")
    return data


def _read_metrics(path: Path, digest: str | None = None) -> list[dict[str, Any]]:
    """metrics.csv rows with numbers parsed (an empty cell, such as the mean rule's threshold, is missing)."""
    try:
        # utf-8-sig: a byte-order mark (a spreadsheet's save) is not part of the first column's name.
        text = _read_own(path, digest)
        rows = list(csv.DictReader(StringIO(text, newline="")))
    except UnicodeDecodeError:
        raise HfaError(f"cannot read {path}: it is not UTF-8 text; was it edited by hand?") from None
    except (OSError, csv.Error) as exc:
        raise HfaError(f"cannot read {path} (a run with status ok must have one): {_one_line(exc)}") from None
    missing = [c for c in ROW_COLUMNS if not rows or c not in rows[0]]
    if missing:
        raise HfaError(f"{path} lacks the column(s) {', '.join(missing)}; expected {', '.join(ROW_COLUMNS)}")
    ragged = next((i for i, row in enumerate(rows) if None in row), None)
    if ragged is not None:  # csv.DictReader keeps surplus cells under the key None
        raise HfaError(
            f"{path}: row {ragged + 2} has more cells than the header's {len(rows[0]) - 1} columns; was it edited by "
            "hand? train the run again"
        )
    _check_rows(rows, path)
    text = ("split", "rule", LABEL_COLUMN)
    return [{k: v if k in text else _metric(v, path, k, i) for k, v in row.items()} for i, row in enumerate(rows, 2)]


def _check_rows(rows: list[dict[str, Any]], path: Path) -> None:
    """Each row a whole row of a split and a rule hfa writes, and for each rule (and label) both splits once: a
    run whose test rows were lost must not leave a report's counts unnoticed."""
    width = len(rows[0])
    seen: dict[tuple[str, str], list[str]] = {}
    for number, row in enumerate(rows, 2):
        if any(value is None for value in row.values()):  # csv.DictReader fills a short row with None
            raise HfaError(
                f"{path}: row {number} has fewer cells than the header's {width} columns; was it edited by hand? "
                "train the run again"
            )
        split, rule = row["split"], row["rule"]
        if split not in SPLITS or not (rule in RULES or tuned_rule_beta(rule) is not None):
            raise HfaError(
                f"{path}: row {number} is for split {clip(split, 20)!r} and rule {clip(rule, 20)!r}; hfa writes "
                f"splits {', '.join(SPLITS)} and rules {', '.join(RULES)}, tuned_f<beta>: was it edited by hand? "
                "train the run again"
            )
        seen.setdefault((rule, row.get(LABEL_COLUMN) or ""), []).append(split)
    for (rule, label), splits in seen.items():
        if sorted(splits) != sorted(SPLITS):
            of = f" of label {label!r}" if label else ""
            raise HfaError(
                f"{path}: rule {rule!r}{of} has rows for {', '.join(sorted(splits))}; a run writes one row for each of "
                f"{', '.join(SPLITS)}: was it edited by hand? train the run again"
            )


# What a metrics.csv value can be: counts (the mean rule's and a macro row's are averages) at least 0, MCC in
# [-1, 1], every other column a rate or probability in [0, 1]; an undefined metric is NaN or empty.
_RANGES = {**dict.fromkeys(COUNT_COLUMNS, (0.0, math.inf)), "mcc": (-1.0, 1.0)}
_SLACK = 1e-9  # rounding of rates computed in float64


def _metric(text: str | None, path: Path, column: str, row: int) -> int | float | None:
    """A metrics.csv cell as a number, refused in one line where no run could have written it."""
    value = _number(text, path, column)
    if value is None or math.isnan(value):
        return value
    low, high = _RANGES.get(column, (0.0, 1.0))
    if not (low - _SLACK <= value <= high + _SLACK and math.isfinite(value)):
        raise HfaError(
            f"{path}: column {column!r} holds {value!r} in row {row}; it lies in [{low:g}, {high:g}]: was it edited "
            "by hand? train the run again"
        )
    return value


def _number(text: str | None, path: Path, column: str) -> int | float | None:
    if text is None or text == "":
        return None
    if text.isdecimal():  # a count; testing first spares a raised ValueError for each of the many rates
        return int(text)
    try:
        return float(text)
    except ValueError:
        raise HfaError(f"{path}: column {column!r} holds {text!r}, expected a number") from None


def _ordered_columns(table: pd.DataFrame, settings: Sequence[str]) -> list[str]:
    """Ids, config keys (first-seen order), row columns, then metrics (the usual order, extras after)."""
    rows = [*ROW_COLUMNS[:2], LABEL_COLUMN, *ROW_COLUMNS[2:]] if LABEL_COLUMN in table.columns else ROW_COLUMNS
    placed = {*ID_COLUMNS, *settings, *rows}
    betas = [float(c[1:]) for c in table.columns if _is_fscore(c)]
    known = [m for m in metrics_columns_for(betas) if m in table.columns]
    extras = [c for c in table.columns if c not in placed and c not in known]
    return [*ID_COLUMNS, *settings, *rows, *known, *extras]


def run_infos(root: str | Path, runs: Sequence[tuple[Path, dict[str, Any]]] | None = None) -> pd.DataFrame:
    """One row per run folder: ``run_id, name, folder, source_ratio`` (from run.json).

    ``source_ratio`` is negatives per positive of the data as it comes (what ``imbalance_ratio: null`` keeps),
    for labelling a natural ratio by its value.
    """
    records = []
    for folder, run in unique_runs(root) if runs is None else runs:
        source = (run.get("data") or {}).get("source") or {}
        records.append(
            {
                "run_id": str(run.get("run_id", folder.name)),
                "name": run.get("name"),
                "folder": str(folder),
                "source_ratio": source.get("ratio"),
            }
        )
    return pd.DataFrame.from_records(records, columns=["run_id", "name", "folder", "source_ratio"])
