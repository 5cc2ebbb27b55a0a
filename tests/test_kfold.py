"""Stratified (repeated) k-fold: the fold is part of a run's config and id, validation is carved (stratified) from
the training folds, the folds of one seed partition the rows, and sets too small for one split train under it."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import StratifiedKFold

from hfa.config import Config, canonical, load_config, run_id
from hfa.data import prepare_data
from hfa.data.splits import KFOLD_FLOORS, why_untrainable
from hfa.errors import HfaError
from hfa.sweep import stack_key


def _data(**kw):
    return load_config(None, [f"data.{k}={v}" for k, v in kw.items()]).resolved_data()


def test_the_folds_of_one_seed_partition_the_rows_as_sklearn_cuts_them():
    folds = [prepare_data(_data(name="keel/glass5", folds=5, fold=f, seed=3)) for f in range(5)]
    y = np.concatenate([s.y_train for s in folds[:1]] + [s.y_val for s in folds[:1]] + [s.y_test for s in folds[:1]])
    rows = len(y)
    tests = [s.indices["test"] for s in folds]
    assert sorted(np.concatenate(tests).tolist()) == list(range(rows))  # disjoint, covering
    # The independent reference: scikit-learn's StratifiedKFold on the labels in source order.
    labels = np.zeros(rows)
    for s in folds[:1]:
        for split in ("train", "val", "test"):
            labels[s.indices[split]] = getattr(s, f"y_{split}")
    reference = [np.sort(t) for _, t in StratifiedKFold(5, shuffle=True, random_state=3).split(labels, labels)]
    for mine, theirs in zip(tests, reference, strict=True):
        assert mine.tolist() == theirs.tolist()
    for s in folds:
        parts = [set(s.indices[p].tolist()) for p in ("train", "val", "test")]
        assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
        assert sum(map(len, parts)) == rows
        # validation is 0.2 of all rows, stratified: glass5's 9 positives leave 1 or 2 per test fold
        assert s.info["splits"]["val"]["positives"] >= KFOLD_FLOORS["val"]
        assert s.info["folds"] == 5


def test_glass5_cannot_take_one_split_but_trains_under_5_fold():
    assert why_untrainable(9, 205, Config().data) == "2 positives in val, 5 needed"
    assert why_untrainable(9, 205, _data(folds=5)) is None
    with pytest.raises(HfaError, match="positives in the val split"):
        prepare_data(_data(name="keel/glass5", seed=0))


def test_the_fold_is_in_the_run_id_and_test_size_is_not_under_k_fold():
    base = ["data.folds=5"]
    assert run_id(load_config(None, [*base, "data.fold=0"])) != run_id(load_config(None, [*base, "data.fold=1"]))
    assert run_id(load_config(None, [*base, "data.test_size=0.3"])) == run_id(load_config(None, base))
    # one split: neither key is in the resolved config, so every existing run keeps its id
    plain = canonical(Config())
    assert "folds" not in plain["data"] and "fold" not in plain["data"]
    assert run_id(load_config(None, ["data.fold=3"])) == run_id(Config())


def test_runs_of_different_folds_share_a_stack():
    a, b = (load_config(None, ["data.folds=2", f"data.fold={f}"]) for f in (0, 1))
    assert stack_key(a) == stack_key(b)


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        (["data.folds=5", "data.fold=5"], "fold must lie in 0..4"),
        (["data.folds=1"], "greater than or equal to 2"),
        (["data.folds=2", "data.val_size=0.5"], "val_size must be below 1 - 1/folds = 0.5"),
    ],
)
def test_bad_folds_are_one_line_errors(overrides, match):
    with pytest.raises(HfaError, match=match) as caught:
        load_config(None, overrides)
    assert "\n" not in str(caught.value)


def test_multilabel_data_refuses_k_fold():
    cfg = load_config(None, ["data.name=mulan/yeast", "data.folds=2"]).resolved_data()
    with pytest.raises(HfaError, match="k-fold splits single-label data"):
        prepare_data(cfg)


def test_a_k_fold_report_says_its_rows_average_over_seeds_and_folds(tmp_path, tiny_config):
    import hfa
    from hfa.report import build_report, load_runs, render

    hfa.sweep(
        tiny_config,
        ["data.folds=2"],
        grid={"data.fold": [0, 1], "loss.name": ["bce", "f1"], "seed": [0, 1]},
        out=tmp_path,
    )
    report = build_report(load_runs(tmp_path / "tiny"))
    text = render(report, "markdown")
    assert report.folds and "mean±std over seeds and folds" in text and "over seeds**" not in text
