"""``DataConfig`` -> ``Splits``: load, subsample to the imbalance ratio, stratified split, preprocess."""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hfa.config import DataConfig
from hfa.data.checks import check_features, check_matrix
from hfa.data.columns import separating_features
from hfa.data.fingerprint import data_fingerprint
from hfa.data.imbalance import subsample_to_ratio
from hfa.data.preprocess import Preprocessing, fit_transform_splits
from hfa.data.sklearn_numpy import stratified_cut
from hfa.data.sources import display_name, load_raw, parse_name, target_names
from hfa.errors import HfaError

MIN_POSITIVES = 5  # per split, and the same floor for negatives: fewer makes every metric a coin toss
# Under k-fold a report averages over the folds, and every row is tested once per partition, so one test fold
# may hold few positives; validation (early stopping, the tuned threshold) needs a couple.
KFOLD_FLOORS = {"train": MIN_POSITIVES, "val": 2, "test": 1}
SPLIT_NAMES = ("train", "val", "test")
_ARRAYS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")
SplitCounts = dict[str, tuple[int, int]]  # split -> (positives, negatives)


@dataclass(frozen=True, eq=False)
class Splits:
    """Model-ready arrays: x float32 ``(n, d)``, y float32 in {0, 1}; fitted on the training split only.

    ``indices`` holds, per split, the row positions in ``load_raw(cfg)``'s output, so a prediction can be
    traced back to its source row (-1: a training row SMOTE made, see ``data.resample``). ``info`` is JSON-ready
    (run.json records it).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    feature_names: list[str]
    indices: dict[str, np.ndarray]
    info: dict[str, Any]
    prepare_s: float = 0.0  # wall time of the prepare_data call that returned these (a cache hit is fast)
    preprocessing: Preprocessing | None = None  # fitted on x_train's raw rows; frozen, so copies share it

    @property
    def n_features(self) -> int:
        return self.x_train.shape[1]

    def summary(self) -> pd.DataFrame:
        """Rows, positives, negatives and ratio (negatives per positive) per split."""
        return pd.DataFrame.from_dict(self.info["splits"], orient="index")

    def copy(self) -> Splits:
        """Deep copy: cached splits are shared, a copy can be changed freely."""
        return dataclasses.replace(
            self,
            **{f: getattr(self, f).copy() for f in _ARRAYS},
            feature_names=list(self.feature_names),
            indices={k: v.copy() for k, v in self.indices.items()},
            info=_deep_copy_info(self.info),
        )


def _deep_copy_info(info: dict[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy_info(v) if isinstance(v, dict) else v for k, v in info.items()}


def _counts(y: np.ndarray) -> dict[str, Any]:
    positives = int(np.sum(y == 1))
    negatives = int(len(y) - positives)
    ratio = negatives / positives if positives else None
    return {"rows": int(len(y)), "positives": positives, "negatives": negatives, "ratio": ratio}


def stratified_split(y: np.ndarray, test_size: float, val_size: float, seed: int) -> dict[str, np.ndarray]:
    """Positions of the train/val/test rows; test is cut first, then val from the rest.

    ``val_size`` is a fraction of all rows, so it is rescaled for the second cut. Each cut is scikit-learn's
    stratified ``train_test_split`` (``hfa.data.sklearn_numpy``: the same rows); a ``ValueError`` when a class is
    too small to be stratified.
    """
    rest, test = stratified_cut(y, test_size, seed)
    train, val = stratified_cut(y[rest], val_size / (1 - test_size), seed)
    train, val = rest[train], rest[val]
    return {"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)}


def kfold_split(y: np.ndarray, folds: int, fold: int, val_size: float, seed: int) -> dict[str, np.ndarray]:
    """Positions of the train/val/test rows under stratified k-fold: test is fold ``fold`` of ``folds``
    (scikit-learn's ``StratifiedKFold``, shuffled with ``seed``), validation is carved (stratified) from the
    other folds. ``val_size`` is a fraction of all rows, as in :func:`stratified_split`.

    The partition depends on ``seed`` alone, so the folds of one seed are disjoint and cover every row: a
    repeated k-fold is the folds crossed with several seeds.
    """
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    rest, test = list(splitter.split(np.zeros(len(y)), y))[fold]
    train, val = stratified_cut(y[rest], val_size / (1 - 1 / folds), seed)
    train, val = rest[train], rest[val]
    return {"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)}


def split_positions(y: np.ndarray, cfg: DataConfig, seed: int) -> dict[str, np.ndarray]:
    """The run's split: one stratified train/val/test split, or its fold of a stratified k-fold."""
    if cfg.folds is None:
        return stratified_split(y, cfg.test_size, cfg.val_size, seed)
    return kfold_split(y, cfg.folds, cfg.fold, cfg.val_size, seed)


def _floors(cfg: DataConfig) -> dict[str, int]:
    return dict.fromkeys(SPLIT_NAMES, MIN_POSITIVES) if cfg.folds is None else KFOLD_FLOORS


def _split_class_counts(n_pos: int, n_neg: int, cfg: DataConfig) -> SplitCounts | None:
    """(positives, negatives) per split for these class sizes, or None when sklearn cannot split them.

    The split sizes depend only on the class counts, so a dummy label vector reproduces them exactly. Under
    k-fold every fold is tried and each split's smallest counts are kept: a set is trainable when all its folds are.
    """
    y = np.concatenate([np.ones(n_pos, np.int8), np.zeros(n_neg, np.int8)])
    tried = [cfg] if cfg.folds is None else [cfg.model_copy(update={"fold": f}) for f in range(cfg.folds)]
    counts: SplitCounts = {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # StratifiedKFold warns of a class smaller than the folds: counted below
            for each in tried:
                # drawn_seed, not seed: a null data.seed (the run's seed) would make the answer vary between calls.
                parts = split_positions(y, each, cfg.drawn_seed)
                for name, idx in parts.items():
                    pos, neg = int(y[idx].sum()), int(len(idx) - y[idx].sum())
                    old = counts.get(name, (pos, neg))
                    counts[name] = (min(old[0], pos), min(old[1], neg))
    except ValueError:
        return None
    return counts


def _feasible(counts: SplitCounts | None, cfg: DataConfig) -> bool:
    floors = _floors(cfg)
    return counts is not None and all(min(p, n) >= floors[s] for s, (p, n) in counts.items())


def _short_split(counts: SplitCounts, cfg: DataConfig) -> tuple[str, tuple[int, int]]:
    """The split furthest below its floor (the smallest class count less the floor)."""
    floors = _floors(cfg)
    return min(counts.items(), key=lambda item: min(item[1]) - floors[item[0]])


def why_untrainable(n_pos: int, n_neg: int, cfg: DataConfig) -> str | None:
    """Why data with these class sizes cannot be split as ``cfg`` says (``None``: it can), without loading it."""
    counts = _split_class_counts(n_pos, n_neg, cfg)
    if _feasible(counts, cfg):
        return None
    short = "positives" if n_pos <= n_neg else "negatives"
    have = min(n_pos, n_neg)
    if counts is None:
        return f"{_plural(have, short[:-1])} cannot be split in three"
    split, (pos, neg) = _short_split(counts, cfg)
    return f"{_plural(min(pos, neg), short[:-1])} in {split}, {_floors(cfg)[split]} needed"


def _smallest_feasible(total: int, counts_for: Callable[[int], SplitCounts | None], cfg: DataConfig) -> int | None:
    """Smallest k in [1, total] whose split counts are feasible; split sizes grow with k, so bisect."""
    if not _feasible(counts_for(total), cfg):
        return None
    low, high = 1, total
    while low < high:
        mid = (low + high) // 2
        if _feasible(counts_for(mid), cfg):
            high = mid
        else:
            low = mid + 1
    return low


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _infeasible_error(cfg: DataConfig, name: str, n_pos: int, n_neg: int, kept: tuple[int, int]) -> HfaError:
    """The one-line explanation of why no usable split exists, with the ratios that would work."""
    counts = _split_class_counts(*kept, cfg)
    if counts is None:
        # sklearn could not even stratify; the proportional share is what a split would have held.
        test = cfg.test_size if cfg.folds is None else 1 / cfg.folds
        shares = {"train": 1 - cfg.val_size - test, "val": cfg.val_size, "test": test}
        counts = {s: (int(kept[0] * f), int(kept[1] * f)) for s, f in shares.items()}
    split, (pos, neg) = _short_split(counts, cfg)
    short_label, short = ("positives", pos) if pos <= neg else ("negatives", neg)
    have = f"the data has {_plural(n_pos, 'positive')} and {_plural(n_neg, 'negative')}"
    where = "per split" if cfg.folds is None else f"in {split} under k-fold"
    need = f"(at least {_floors(cfg)[split]} {short_label} needed {where})"
    setting = (
        f"data.imbalance_ratio={cfg.imbalance_ratio:g}"
        if cfg.imbalance_ratio is not None
        else "data.imbalance_ratio=null (the data as it comes)"
    )
    lead = f"{setting} leaves {_plural(short, short_label[:-1])} in the {split} split of {name} {need}; {have}"

    if short_label == "positives":
        needed = _smallest_feasible(n_pos, lambda k: _split_class_counts(k, n_neg, cfg), cfg)
        if needed is None:
            return HfaError(f"{lead}, too few for data.val_size={cfg.val_size} and data.test_size={cfg.test_size}")
        # floor(n_neg / r) >= needed  <=>  r <= n_neg / needed; shown rounded down so it is reachable as written
        return HfaError(f"{lead}, so the largest reachable ratio is ~{math.floor(100 * n_neg / needed) / 100:g}")
    needed = _smallest_feasible(n_neg, lambda k: _split_class_counts(n_pos, k, cfg), cfg)
    if needed is None:
        return HfaError(f"{lead}, too few for data.val_size={cfg.val_size} and data.test_size={cfg.test_size}")
    # round(r * n_pos) >= needed once r >= needed / n_pos; shown rounded up so it is reachable as written
    return HfaError(f"{lead}, so the smallest reachable ratio is ~{math.ceil(100 * needed / n_pos) / 100:g}")


def _cache_key(cfg: DataConfig) -> str:
    key = cfg.model_dump_json()
    kind, path = parse_name(cfg.name)
    file = Path(path).expanduser().resolve()
    if kind == "file" and file.is_file():
        # A relative path means another file after a chdir, and a file edited between two runs of one
        # process must not be served from the cache.
        stat = file.stat()
        key += f"|{file}|{stat.st_mtime_ns}|{stat.st_size}"
    return key


@lru_cache(maxsize=32)
def _prepare(key: str, cfg_json: str) -> Splits:
    del key  # part of the cache key only
    cfg = DataConfig.model_validate_json(cfg_json)
    name = display_name(cfg)
    features, y = load_raw(cfg)
    check_features(features, name)
    if y.ndim == 2:
        return _read_only(_prepare_multilabel(cfg, name, features, y))
    n_pos, n_neg = int(y.sum()), int(len(y) - y.sum())

    kept = subsample_to_ratio(y, cfg.imbalance_ratio, np.random.default_rng(cfg.seed))
    y_kept = y[kept]
    kept_pos = int(y_kept.sum())
    kept_counts_ = (kept_pos, len(kept) - kept_pos)
    if not _feasible(_split_class_counts(*kept_counts_, cfg), cfg):
        raise _infeasible_error(cfg, name, n_pos, n_neg, kept_counts_)

    parts = split_positions(y_kept, cfg, cfg.seed)
    frames = (features.iloc[kept[parts[s]]] for s in SPLIT_NAMES)
    (x_train, x_val, x_test), names, fitted = fit_transform_splits(frames)
    for x in (x_train, x_val, x_test):
        check_matrix(x, name)
    ys = {s: y_kept[parts[s]].astype(np.float32) for s in SPLIT_NAMES}
    info = {
        "name": name,
        "fingerprint": data_fingerprint(cfg),
        "source": {"rows": len(y), "positives": n_pos, "negatives": n_neg, "ratio": n_neg / n_pos},
        "seed": cfg.seed,
        "imbalance_ratio": cfg.imbalance_ratio,
        **({} if cfg.folds is None else {"folds": cfg.folds, "fold": cfg.fold}),
        "n_features": len(names),
        "splits": {s: _counts(ys[s]) for s in SPLIT_NAMES},
    }
    if parse_name(cfg.name)[0] == "file":  # a user's table; a benchmark's separable columns are its own business
        info["separating_features"] = separating_features(features.iloc[kept[parts["train"]]], ys["train"])
    splits = Splits(
        x_train=x_train,
        y_train=ys["train"],
        x_val=x_val,
        y_val=ys["val"],
        x_test=x_test,
        y_test=ys["test"],
        feature_names=names,
        indices={s: kept[parts[s]] for s in SPLIT_NAMES},
        info=info,
        preprocessing=fitted,
    )
    return _read_only(splits)


def _read_only(splits: Splits) -> Splits:
    # The cached copy is read-only so an accidental in-place change cannot leak into later runs.
    for array in (*(getattr(splits, f) for f in _ARRAYS), *splits.indices.values()):
        array.setflags(write=False)
    return splits


def _prepare_multilabel(cfg: DataConfig, name: str, features: pd.DataFrame, y: np.ndarray) -> Splits:
    """As the single-label path, for a label matrix ``y`` ``(n, L)``: iterative stratification, no subsampling.

    ``y_*`` are float32 ``(n, L)``; ``info["labels"]`` names the columns and each split records per-label counts.
    """
    from hfa.data import multilabel

    labels = target_names(cfg)
    if cfg.folds is not None:
        raise HfaError(f"data.folds={cfg.folds}: k-fold splits single-label data; {name} has {len(labels)} labels")
    multilabel.refuse_ratio(cfg.imbalance_ratio, name, len(labels))
    parts = multilabel.multilabel_split(y, cfg.test_size, cfg.val_size, cfg.seed)
    multilabel.check_splits(y, parts, labels, name, MIN_POSITIVES)
    (x_train, x_val, x_test), names, fitted = fit_transform_splits(features.iloc[parts[s]] for s in SPLIT_NAMES)
    ys = {s: y[parts[s]].astype(np.float32) for s in SPLIT_NAMES}
    info = {
        "name": name,
        "fingerprint": data_fingerprint(cfg),
        "source": {"rows": len(y), "labels": multilabel.label_counts(y, labels)},
        "seed": cfg.seed,
        "imbalance_ratio": None,
        "n_features": len(names),
        "labels": labels,
        "splits": {s: {"rows": len(ys[s]), "labels": multilabel.label_counts(ys[s], labels)} for s in SPLIT_NAMES},
    }
    if parse_name(cfg.name)[0] == "file":
        info["separating_features"] = {
            label: found
            for j, label in enumerate(labels)
            if (found := separating_features(features.iloc[parts["train"]], ys["train"][:, j]))
        }
    arrays = {"x_train": x_train, "x_val": x_val, "x_test": x_test, **{f"y_{s}": ys[s] for s in SPLIT_NAMES}}
    return Splits(**arrays, feature_names=names, indices=dict(parts), info=info, preprocessing=fitted)


def prepare_data(cfg: DataConfig) -> Splits:
    """Load, subsample to ``cfg.imbalance_ratio``, split (stratified) and preprocess; see ``Splits``.

    A ``cfg.seed`` of ``None`` is ``cfg.drawn_seed``; runs pass ``Config.resolved_data()``. Identical configs are
    served from a cache (a sweep over losses reuses the data); each call returns its own writable copy. The
    training split is then resampled as ``cfg.resample`` says (``resampled``), so runs that differ only in their
    resampler share one preparation of the data.
    """
    start = time.perf_counter()
    cfg = cfg.model_copy(update={"seed": cfg.drawn_seed})
    base = cfg.model_copy(update={"resample": "none"})
    splits = resampled(_prepare(_cache_key(base), base.model_dump_json()).copy(), cfg.resample, cfg.seed)
    return dataclasses.replace(splits, prepare_s=time.perf_counter() - start)


def resampled(splits: Splits, method: str, seed: int) -> Splits:
    """``splits`` with the training split resampled (``hfa.data.resample``); validation and test are untouched.

    ``info["splits"]["train"]`` then counts the rows trained on and ``info["resample"]`` says how they were made,
    with the counts before; ``indices["train"]`` holds -1 for a row SMOTE made.
    """
    if method == "none":
        return splits
    from hfa.data.resample import resample_training
    from hfa.methods import SMOTE_NEIGHBOURS

    where = f"the training split of {splits.info['name']}"
    x, y, source = resample_training(splits.x_train, splits.y_train, method, seed, where)
    info = _deep_copy_info(splits.info)
    before = info["splits"]["train"]
    info["splits"]["train"] = _counts(y)
    info["resample"] = {
        "method": method,
        "seed": seed,
        **({"k_neighbors": SMOTE_NEIGHBOURS} if method == "smote" else {}),
        "before": before,
        "after": info["splits"]["train"],
    }
    rows = np.where(source >= 0, splits.indices["train"][np.maximum(source, 0)], -1)
    return dataclasses.replace(splits, x_train=x, y_train=y, indices={**splits.indices, "train": rows}, info=info)


def clear_caches() -> None:
    """Forget cached splits and named data sets (tests; or after editing a data file in place)."""
    from hfa.data import multilabel, named

    _prepare.cache_clear()
    for cached in (
        named.synthetic,
        named.paper_synthetic,
        named.sklearn_dataset,
        named._keel_dataset,
        multilabel.mulan_dataset,
    ):
        cached.cache_clear()
