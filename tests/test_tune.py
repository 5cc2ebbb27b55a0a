"""`hfa tune`: equal budgets, trials that are plain runs bit for bit, choices on validation only, resumable
studies, and every bad plan refused in one line before any training."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import hfa
from hfa.cli import app
from hfa.errors import HfaError
from hfa.search import load_plan
from hfa.tune import CHOICES, JOURNAL, tune, validation_score

runner = CliRunner()

DATA = {"name": "synthetic", "n_samples": 600, "n_features": 3, "cluster_std": 3.0, "imbalance_ratio": 5, "folds": 2}
STUDY = {
    "name": "tiny",
    "data": DATA,
    "model": {"hidden": [8]},
    "train": {"epochs": 3, "batch_size": 64, "patience": 0, "device": "cpu"},
    "methods": {
        "bce": {"loss.name": "bce"},
        "f1": {"loss.name": "f1", "search": {"loss.delta": {"low": 0.05, "high": 0.4}}},
    },
    "search": {"train.lr": {"low": 1.0e-3, "high": 5.0e-2, "log": True}},
    "tune": {"budget": 3, "batch": 2, "seeds": [0], "final_seeds": [7, 8]},
}


def _config(tmp_path: Path, **changes) -> Path:
    study = yaml.safe_load(yaml.safe_dump(STUDY))
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        node = study
        for part in parents:
            node = node.setdefault(part, {})
        if value is None:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(study), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    base = tmp_path_factory.mktemp("tune")
    path = _config(base)
    result = hfa.tune(path, out=base / "runs")
    return base, path, result


@pytest.mark.slow
def test_every_method_gets_the_budget_and_the_choice_is_the_best_validation_trial(tuned):
    _, path, result = tuned
    plan = load_plan(path)
    assert [c.method for c in result.choices] == ["bce", "f1"]
    for choice in result.choices:
        assert choice.trials == plan.budget == 3
        trials = sorted((result.root / "trials" / choice.method).iterdir())
        assert len([t for t in trials if not t.name.startswith(".")]) == 3 * 2  # budget x (1 seed x 2 folds)
        # the choice is the best mean validation f1 (tuned rule) among the method's trials, recomputed here
        scores: dict[str, list[float]] = {}
        for folder in trials:
            if folder.name.startswith("."):
                continue
            config = yaml.safe_load((folder / "config.yaml").read_text())
            setting = yaml.safe_dump({k: v for k, v in config["train"].items() if k == "lr"} | config["loss"])
            metrics = pd.read_csv(folder / "metrics.csv")
            row = metrics[(metrics["split"] == "val") & (metrics["rule"] == "tuned")]
            scores.setdefault(setting, []).append(float(row["f1"].iloc[0]))
        best = max(sum(v) / len(v) for v in scores.values())
        assert choice.value == pytest.approx(best, abs=1e-12)
        assert len(choice.runs) == 4 and all((run / "run.json").is_file() for run in choice.runs)  # 2 seeds x 2 folds
        finals = [yaml.safe_load((run / "config.yaml").read_text()) for run in choice.runs]
        assert sorted((c["seed"], c["data"]["fold"]) for c in finals) == [(7, 0), (7, 1), (8, 0), (8, 1)]
        assert all(c["train"]["lr"] == choice.params["train.lr"] for c in finals)
    choices = pd.read_csv(result.root / CHOICES)
    assert list(choices["method"]) == ["bce", "f1"]
    report = (result.root / "report.md").read_text()
    assert report.startswith("**Bottom line")


@pytest.mark.slow
def test_a_trial_is_a_plain_run_of_its_config_bit_for_bit(tuned, tmp_path):
    _, _, result = tuned
    trial = next(p for p in sorted((result.root / "trials" / "f1").iterdir()) if not p.name.startswith("."))
    run = yaml.safe_load((trial / "run.json").read_text())
    assert run["stacked"] > 1  # it was trained in a stack with other runs
    alone = hfa.train(str(trial / "config.yaml"), out=tmp_path)
    assert alone.run_dir.name == trial.name
    assert (alone.run_dir / "metrics.csv").read_bytes() == (trial / "metrics.csv").read_bytes()
    mine = torch.load(trial / "model.pt", weights_only=True)
    theirs = torch.load(alone.run_dir / "model.pt", weights_only=True)
    assert mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)


@pytest.mark.slow
def test_test_numbers_never_steer_a_choice(tuned, tmp_path):
    """Rewrite every trial's test rows so that reading them would choose another trial; the choices stay."""
    base, path, result = tuned
    copy = tmp_path / "runs"
    shutil.copytree(result.root.parent, copy)
    root = copy / result.root.name
    (root / JOURNAL).unlink()  # the studies are asked again and read the (tampered) folders afresh
    (root / CHOICES).unlink()
    chosen = {c.method: c for c in result.choices}
    for folder in (root / "trials").glob("*/*"):
        if folder.name.startswith("."):
            continue
        lr = yaml.safe_load((folder / "config.yaml").read_text())["train"]["lr"]
        metrics = pd.read_csv(folder / "metrics.csv")
        is_choice = lr == chosen[folder.parent.name].params["train.lr"]
        test = metrics["split"] == "test"
        for column in ("f1", "tp", "fp", "fn", "tn"):
            metrics[column] = metrics[column].astype(float)
        metrics.loc[test, "f1"] = 0.0 if is_choice else 1.0
        metrics.loc[test, ["tp", "fp", "fn", "tn"]] = [0, 0, 9, 9] if is_choice else [9, 0, 0, 9]
        metrics.to_csv(folder / "metrics.csv", index=False)
    again = tune(load_plan(path), copy)
    assert [(c.method, c.trial, c.params, c.value) for c in again.choices] == [
        (c.method, c.trial, c.params, c.value) for c in result.choices
    ]
    assert again.trained == 0  # every trial and final run was already there


def test_validation_score_reads_only_validation_rows(tmp_path):
    rows = [
        {"split": "val", "rule": "tuned", "f1": 0.25, "tp": 1, "fp": 3, "fn": 3, "tn": 10},
        {"split": "test", "rule": "tuned", "f1": 0.99, "tp": 9, "fp": 0, "fn": 0, "tn": 9},
        {"split": "val", "rule": "fixed", "f1": 0.5, "tp": 2, "fp": 2, "fn": 2, "tn": 10},
    ]
    pd.DataFrame(rows).to_csv(tmp_path / "metrics.csv", index=False)
    assert validation_score(tmp_path, "f1", "tuned") == 0.25
    assert validation_score(tmp_path, "f1", "fixed") == 0.5
    # a metric without a column comes from the validation counts: F2 = 5 tp / (5 tp + 4 fn + fp) = 5 / 20
    assert validation_score(tmp_path, "f2", "tuned") == pytest.approx(5 / 20)


@pytest.mark.slow
def test_a_study_resumed_with_a_larger_budget_asks_what_one_call_would(tmp_path):
    path = _config(tmp_path, tune__budget=4, methods={"bce": {"loss.name": "bce"}})
    whole = hfa.tune(path, out=tmp_path / "whole")
    hfa.tune(path, out=tmp_path / "parts", budget=2)
    resumed = hfa.tune(path, out=tmp_path / "parts")

    def trials(root: Path) -> list[str]:
        return sorted(p.name for p in (root / "tiny" / "trials" / "bce").iterdir() if not p.name.startswith("."))

    assert trials(tmp_path / "whole") == trials(tmp_path / "parts")
    assert [(c.trial, c.params) for c in resumed.choices] == [(c.trial, c.params) for c in whole.choices]


BAD = [
    ({"search__train.lr": {"low": 0.1, "high": 0.01}}, "the range of 'train.lr' is reversed"),
    ({"search__train.lr": {"low": 0.01, "high": 0.01}}, "the range of 'train.lr' is empty"),
    ({"search__model.hidden": {"choices": []}}, "the choices of 'model.hidden' are empty"),
    ({"search__train.lrr": {"low": 0.01, "high": 0.1}}, "unknown key 'train.lrr'"),
    ({"search__loss.gamma": {"low": 1, "high": 3}}, "'loss.gamma' does not apply to method bce"),
    ({"search__model.dropout": {"low": 0.0, "high": 1.5}}, "model.dropout"),
    ({"search__train.lr": {"low": 0.0, "high": 0.1, "log": True}}, "needs low > 0"),
    ({"tune__budget": 0}, "tune.budget must be a whole number in [1"),
    ({"tune__final_seeds": [0, 1]}, "share seeds [0]"),
    ({"methods__odd": {"loss.name": "nosuchloss"}}, "unknown loss 'nosuchloss'"),
    ({"methods__gbdt": {"model.name": "gbdt"}}, "search range on 'train.lr' does not apply to method gbdt (gbdt"),
    ({"tune__rule": "best"}, 'tune.rule "best" is not a threshold rule'),
    ({"methods": None}, "'methods' in"),
    ({"tune__budget": 5000, "tune__seeds": list(range(20, 40))}, "; at most 100,000 in one study"),
    ({"sweep__train.device": ["cpu", "cuda:7"]}, "train.device=cuda:7"),
]


@pytest.mark.parametrize(("changes", "message"), BAD)
def test_a_bad_plan_exits_2_in_one_line_before_any_training(tmp_path, changes, message):
    path = _config(tmp_path, **changes)
    out = tmp_path / "out"
    result = runner.invoke(app, ["tune", "--config", str(path), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert message in result.output and len(result.output.strip().splitlines()) == 1, result.output
    assert not out.exists()
    with pytest.raises(HfaError):
        hfa.tune(path, out=out)
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--method", "nosuch"], "unknown method 'nosuch'; "), (["--budget", "0"], "tune.budget must be")],
)
def test_bad_options_exit_2(tmp_path, args, message):
    result = runner.invoke(app, ["tune", "--config", str(_config(tmp_path)), "--out", str(tmp_path / "o"), *args])
    assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "o").exists()


def test_the_shipped_studies_plan_as_documented():
    root = Path(__file__).resolve().parents[1] / "configs"
    tiny = load_plan(root / "keel-contest-tiny.yaml")
    assert [p["data.name"] for p in tiny.points] == ["keel/yeast4", "keel/glass5"]
    ranges = {m.name: [r.key for r in m.ranges] for m in tiny.methods}
    shared = ["train.lr", "train.weight_decay", "model.hidden", "model.dropout"]
    assert ranges["bce"] == shared and ranges["f1"] == [*shared, "loss.delta"]
    assert ranges["focal"] == [*shared, "loss.gamma", "loss.alpha"]
    assert tiny.budget == 4 and tiny.repeats(tiny.seeds, tiny.tune_folds) == [(0, 0)]
    assert len(tiny.repeats(tiny.final_seeds)) == 10  # 2 fresh partitions x 5 folds
    losses = ["bce", "wbce", "focal", "f1", "f2", "mcc", "auroc"]
    full = load_plan(root / "keel-contest.yaml", methods=losses)
    assert len(full.points) == 111 and full.budget == 6 and [m.name for m in full.methods] == losses


def test_a_range_given_twice_in_a_list_of_blocks_is_refused(tmp_path):
    lr = {"train.lr": {"low": 0.001, "high": 0.01}}
    path = _config(tmp_path, methods={"bce": {"loss.name": "bce", "search": [lr, lr]}}, search=None)
    with pytest.raises(HfaError, match="gives a range of 'train.lr' twice"):
        load_plan(path)


def test_a_study_resumes_only_on_the_data_it_began_with(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3))
    table = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "y": (x[:, 0] + rng.normal(size=400) > 1).astype(int)})
    csv = tmp_path / "t.csv"
    table.to_csv(csv, index=False)
    path = _config(
        tmp_path, data={"name": str(csv), "target": "y"}, tune__budget=1, tune__batch=1, tune__final_seeds=[7]
    )
    out = tmp_path / "out"
    first = runner.invoke(app, ["tune", "--config", str(path), "--out", str(out), "-q"])
    assert first.exit_code == 0, first.output
    before = sorted(p.relative_to(out) for p in out.rglob("run.json"))
    table.loc[0, "y"] = 1 - table.loc[0, "y"]  # one label edited
    table.to_csv(csv, index=False)
    journal = next(out.rglob("tune.journal")).read_bytes()
    again = runner.invoke(app, ["tune", "--config", str(path), "--out", str(out), "-q"])
    assert next(out.rglob("tune.journal")).read_bytes() == journal  # refused: the journal is as it was
    assert again.exit_code == 2 and "changed since this study began" in again.output, again.output
    assert len(again.output.strip().splitlines()) == 1
    assert sorted(p.relative_to(out) for p in out.rglob("run.json")) == before


def test_a_tune_reports_figure_draws_methods_as_hues_and_data_sets_on_the_axis(tuned):
    """With `--by data.name,name` the methods were the x axis and every data set was drawn into one panel titled
    with the last one; the method column is a hue, as the loss is in a sweep's report."""
    from hfa.report import build_report, load_runs
    from hfa.report.collect import DATA_KEY
    from hfa.report.figures import _x_key, metrics_figure

    base, _, _ = tuned
    report = build_report(load_runs(base / "runs" / "tiny" / "final"), by=[DATA_KEY, "name"])
    assert _x_key(report) == DATA_KEY
    figure = metrics_figure(report)
    labels = {label for ax in figure.axes for label in ax.get_legend_handles_labels()[1]}
    assert {"name bce", "name f1"} <= labels


@pytest.fixture(scope="module")
def small_study(tmp_path_factory):
    """A finished one-trial study, copied by each test that changes something about it."""
    base = tmp_path_factory.mktemp("small")
    path = _config(base, tune__budget=1, tune__batch=1, tune__final_seeds=[7])
    result = runner.invoke(app, ["tune", "--config", str(path), "--out", str(base / "out"), "-q"])
    assert result.exit_code == 0, result.output
    return base / "out"


@pytest.mark.parametrize(
    ("changes", "overrides", "says"),
    [
        ({"tune__metric": "roc_auc"}, [], "the tune.metric of study"),
        ({"tune__rule": "fixed"}, [], "the tune.rule of study"),
        ({"search": {"train.lr": {"low": 1.0e-3, "high": 9.0e-2, "log": True}}}, [], "the searched ranges of study"),
        ({}, ["train.epochs=4"], "the run settings (the config, the method or the seeds) of study"),
        ({"tune__seeds": [1]}, [], "the run settings"),
    ],
)
def test_a_study_resumes_only_under_the_objective_it_began_with(tmp_path, small_study, changes, overrides, says):
    """A trial's value read at another metric, rule, range or config would be told as one of this study's."""
    out = tmp_path / "out"
    shutil.copytree(small_study, out)
    path = _config(tmp_path, tune__budget=1, tune__batch=1, tune__final_seeds=[7], **changes)
    journal = next(out.rglob("tune.journal"))
    before = journal.read_bytes()
    again = runner.invoke(app, ["tune", "--config", str(path), "--out", str(out), "-q", *overrides])
    assert again.exit_code == 2 and says in again.output, again.output
    assert len(again.output.strip().splitlines()) == 1
    assert journal.read_bytes() == before


@settings(max_examples=20, deadline=None, derandomize=True)
@given(
    damage=st.sampled_from(["not json", '{"op_code": 99}', "[1, 2]", "\xff", '{"op_code": 4, "study_id": 77}']),
    at_end=st.booleans(),
)
def test_a_damaged_journal_is_one_line_before_any_work(tmp_path_factory, small_study, damage, at_end):
    base = tmp_path_factory.mktemp("journal")
    out = base / "out"
    shutil.copytree(small_study, out)
    journal = next(out.rglob("tune.journal"))
    lines = journal.read_bytes().splitlines(keepends=True)
    bad = damage.encode("utf-8", "surrogateescape") + b"\n"
    journal.write_bytes(b"".join([*lines, bad] if at_end else [lines[0], bad, *lines[1:]]))
    before = journal.read_bytes()
    path = _config(base, tune__budget=2, tune__batch=1, tune__final_seeds=[7])  # a resume that would train
    result = runner.invoke(app, ["tune", "--config", str(path), "--out", str(out), "-q"])
    assert result.exit_code == 2 and "tune.journal" in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert journal.read_bytes() == before
