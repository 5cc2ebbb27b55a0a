"""The documented examples work as written: every command in a fenced block of README.md and datasets/README.md.

Commands run in document order in a scratch folder holding copies of ``configs/`` and ``datasets/``, through the
CLI in this process (globs expanded as a shell would). ``hfa train``/``hfa sweep`` on the quickstart config get
``train.epochs=2`` appended, which the README's override syntax allows, to keep them to seconds; the rest run as
written. A console block's ``error:`` lines must match what the command prints, word for word. Python blocks are
executed as they stand.
"""

from __future__ import annotations

import glob
import importlib.util
import re
import shlex
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from hfa.cli import app

ROOT = Path(__file__).resolve().parents[1]
DOCS = ("README.md", "datasets/README.md")
CHEAP = "train.epochs=2"
# Commands that are not hfa's and why the test does not run them.
NOT_RUN = {
    "make quickstart": "runs `hfa sweep --config configs/quickstart.yaml` and `hfa report ...`, both run here",
    "make test": "is this test suite",
}
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)

runner = CliRunner()


def blocks(doc: str) -> list[tuple[str, str]]:
    return [(lang, body) for lang, body in FENCE.findall((ROOT / doc).read_text(encoding="utf-8"))]


def commands(lang: str, body: str) -> list[tuple[str, list[str]]]:
    """(command, expected output lines) of a bash or console block."""
    if lang == "bash":
        return [(line, []) for line in body.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    found: list[tuple[str, list[str]]] = []
    for line in body.splitlines():
        if line.startswith("$ "):
            found.append((line[2:], []))
        elif found:
            found[-1][1].append(line)
    return found


def documented() -> list[tuple[str, str, str, list[str]]]:
    """(doc, kind, text, expected) in document order; kind is "command" or "python"."""
    items = []
    for doc in DOCS:
        for lang, body in blocks(doc):
            if lang in ("bash", "console"):
                items += [(doc, "command", text, expected) for text, expected in commands(lang, body)]
            elif lang == "python":
                items.append((doc, "python", body, []))
    return items


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    folder = tmp_path_factory.mktemp("docs")
    for name in ("configs", "datasets"):
        shutil.copytree(ROOT / name, folder / name)
    (folder / "docs").mkdir()
    return folder


def run_command(text: str, expected: list[str]) -> None:
    if text.split("#")[0].strip() in NOT_RUN:
        return
    words = shlex.split(text, comments=True)
    assert words[0] == "hfa", f"a documented command that this test does not know how to run: {text}"
    args: list[str] = []
    for word in words[1:]:
        args += (sorted(glob.glob(word)) or [word]) if "*" in word else [word]
    if args[0] in ("train", "sweep") and "configs/quickstart.yaml" in args:
        args.append(CHEAP)
    result = runner.invoke(app, args)
    errors = [line for line in expected if line.startswith("error:")]
    if errors:
        assert result.exit_code == 2, result.output
        assert result.output.strip().splitlines() == errors
        return
    assert result.exit_code == 0, f"{text}\n{result.output}"
    if expected and expected[-1].startswith("wrote "):
        folder = expected[-1].removeprefix("wrote ").rsplit("/", 1)[0]
        assert f"wrote {folder}/" in result.output


@pytest.mark.slow
def test_every_documented_command_and_example_runs(scratch, monkeypatch):
    monkeypatch.chdir(scratch)
    items = documented()
    assert sum(kind == "command" for _, kind, _, _ in items) >= 8
    for doc, kind, text, expected in items:
        if kind == "command":
            run_command(text, expected)
        else:
            exec(compile(text, f"{doc} (python block)", "exec"), {"__name__": "__docs__"})
    # What the commands wrote is what the docs say they write.
    assert (scratch / "docs" / "quickstart.png").stat().st_size > 0
    # The README's single run is one point of its sweep (bce at ratio 20, seed 0): the same folder.
    assert (
        len(list((scratch / "runs" / "quickstart").glob("*/run.json"))) == 90
    )  # configs/quickstart.yaml: 3 losses x 3 ratios x 10 seeds
    scored = pd.read_csv(scratch / "scored.csv")
    assert list(scored.columns) == ["age", "score", "label"] and len(scored) == 800


def test_the_docs_name_no_path_outside_the_repository():
    for doc in (*DOCS, "DEVELOPERS.md", "docs/maths.md", "benchmarks/README.md"):
        text = (ROOT / doc).read_text(encoding="utf-8")
        assert "../shared" not in text and "SPEC.md" not in text, doc
        for target in re.findall(r"\]\(([^)#]+)\)", text):
            if "://" not in target:
                assert (ROOT / doc).parent.joinpath(target).exists(), f"{doc} links to {target}"


def _docs_numbers():
    spec = importlib.util.spec_from_file_location("docs_numbers", ROOT / "scripts" / "docs_numbers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_quoted_numbers_are_the_report_files_numbers():
    """Every marked region of README.md and docs/ is what scripts/docs_numbers.py makes of the shipped report
    files (and of what `hfa train --config configs/quickstart.yaml` prints today, its seconds aside), and every
    other number a study page quotes is in a report file of its study."""
    numbers = _docs_numbers()
    assert numbers.drift() == [], "run scripts/docs_numbers.py"
    assert numbers.unquoted() == []


def test_the_docs_check_fails_on_a_wrong_number():
    numbers = _docs_numbers()
    page = (ROOT / "docs" / "experiments" / "quickstart.md").read_text(encoding="utf-8")
    region = next(m.group(0) for m in numbers.REGION.finditer(page) if m.group(2) == "quickstart-findings")
    quoted = re.search(r"Friedman p = (0\.\d{3})", region).group(1)
    wrong = region.replace(f"Friedman p = {quoted}", "Friedman p = 0.999", 1)
    assert numbers.fill(region, "quickstart.md") == region
    assert numbers.fill(wrong, "quickstart.md") == region  # regenerating restores the report's number
    said = numbers.table("quickstart").query("table == 'summary'")["mean"].iloc[0]
    assert numbers.unquoted_in(f"F1 rose to {said:.3f}.", ("quickstart",)) == []
    assert numbers.unquoted_in("F1 rose to 0.9991.", ("quickstart",)) == []  # not a quoted 2-3 decimal number
    assert numbers.unquoted_in("F1 rose by 9.876 on every ratio.", ("quickstart",)) == ["9.876"]


def test_the_fair_keel_study_and_its_untuned_twin_stay_twins():
    """The twin measures what tuning changed only if it trains the contest's methods, data sets, base settings and
    final partitions, each method at the settings the contest searches around."""
    from hfa.config import read_yaml

    contest = read_yaml(ROOT / "configs" / "keel-contest.yaml")
    twin = read_yaml(ROOT / "configs" / "keel-contest-defaults.yaml")
    for section in ("data", "model", "loss", "train", "eval"):
        assert contest[section] == twin[section], section
    strip = {name: {k: v for k, v in spec.items() if k != "search"} for name, spec in contest["methods"].items()}
    assert strip == twin["methods"]
    assert contest["sweep"]["data.name"] == twin["sweep"]["data.name"]
    assert twin["sweep"]["seed"] == contest["tune"]["final_seeds"]
    assert twin["sweep"]["data.fold"] == list(range(contest["data"]["folds"]))


def test_the_readme_speed_table_quotes_the_shipped_benchmark_file():
    """Every figure of README's issue-24 table is the shipped benchmark CSV's, in the table's own rounding."""
    import csv

    rows = {
        (r["case"], r["size"][:4]): r for r in csv.DictReader((ROOT / "benchmarks/results/cpu-2026-12-03.csv").open())
    }

    def row(case, size=""):
        return next(r for (c, s), r in rows.items() if c == case and s.startswith(size))

    def val(case, key, size=""):
        return float(row(case, size)[key])

    small, large = row("train vs MLPClassifier", "100k"), row("train vs MLPClassifier", "1M")
    loader, skorch = row("train vs DataLoader script"), row("train vs skorch")
    rate, whole = row("training vs matmul rate"), row("whole process vs matmul rate")
    per_row = row("training time per row")
    expected = [
        f"| {small['hfa']} | {small['baseline']} | {float(small['ratio']):.2f}x |",
        f"| {float(large['hfa_value']):.1f} s | {float(large['baseline_value']):.1f} s | "
        f"{float(large['ratio']):.2f}x |",
        f"| {row('peak memory vs MLPClassifier')['hfa']} | {row('peak memory vs MLPClassifier')['baseline']} |",
        f"{float(loader['baseline_value']):.2f} / {float(skorch['baseline_value']):.2f} s",
        f"{float(loader['ratio']):.1f}x / {float(skorch['ratio']):.1f}x",
        f"| {row('sweep of 30 vs skorch')['hfa']} | {val('sweep of 30 vs skorch', 'baseline_value'):.1f} s | "
        f"{val('sweep of 30 vs skorch', 'ratio'):.1f}x |",
        f"| {val('sweep of 30 vs hfa train loop', 'baseline_value'):.1f} s | "
        f"{val('sweep of 30 vs hfa train loop', 'ratio'):.1f}x |",
        f"| {row('GridSearchCV vs MLPClassifier')['hfa']} | {row('GridSearchCV vs MLPClassifier')['baseline']} | "
        f"{val('GridSearchCV vs MLPClassifier', 'ratio'):.2f}x |",
        f"| {row('report beyond start-up')['hfa']} | {row('report beyond start-up')['baseline'].split(' (')[0]} | "
        f"{val('report beyond start-up', 'hfa_value') - val('report beyond start-up', 'baseline_value'):.2f} s "
        "beyond |",
        f"| {float(per_row['hfa_value']) * 1e9:,.0f} ns | {float(per_row['baseline_value']) * 1e9:,.0f} ns | "
        f"{float(per_row['ratio']):.2f}x |",
        f"({float(rate['baseline_value']) / 1e9:.0f} GFLOP/s)",
        f"{float(rate['hfa_value']) / 1e9:.1f} / {float(whole['hfa_value']) / 1e9:.1f} GFLOP/s",
        f"{float(rate['ratio']):.0%} / {float(whole['ratio']):.0%}".replace("%", " %"),
        f"| {row('tune vs study.optimize')['hfa']} | {row('tune vs study.optimize')['baseline']} | "
        f"{val('tune vs study.optimize', 'ratio'):.1f}x |",
    ]
    speed = (ROOT / "README.md").read_text(encoding="utf-8").split("## Speed", 1)[1].split("Against plain PyTorch")[0]
    missing = [text for text in expected if text not in speed]
    assert not missing, missing


def test_the_readme_speed_profiles_quote_the_shipped_phases_file():
    """README's "Not met, and why" figures are benchmarks/results/phases-cpu-*.json's, in the text's rounding."""
    import json

    phases = json.loads((ROOT / "benchmarks/results/phases-cpu-2026-12-03.json").read_text(encoding="utf-8"))
    small, large, sweep = (phases[case]["phases"] for case in ("train100k", "train1m", "sweep30"))
    stacked, single = phases["tune"]["sides"]["stacked"], phases["tune"]["sides"]["one at a time"]
    step = phases["step"]

    def imports(p):
        return sum(v for k, v in p.items() if k.startswith("import"))

    def per_step(case):
        return phases[case]["phases"]["training"] / phases[case]["counts"]["steps"] * 1e3

    start = phases["sweep30"]["process"] - sweep["in-process total"]
    expected = [
        f"{phases['train100k']['process']:.2f} s: imports {imports(small):.2f} s (torch {small['import torch']:.2f}, "
        f"pandas {small['import pandas']:.2f}",
        f"training {small['training']:.2f} s (2,350 steps of {per_step('train100k'):.2f} ms)",
        f"but takes {per_step('train1m'):.2f} ms here",
        f"adds {large['data']:.2f} s of data preparation and {imports(large):.2f} s of imports to the "
        f"{large['training']:.2f} s of training",
        f"{phases['sweep30']['process']:.2f} s: imports {imports(sweep):.2f} s, data {sweep['data']:.2f} s, training "
        f"{sweep['training']:.2f} s",
        f"evaluating and writing 30 run folders {sweep['evaluate and write run folders']:.2f} s",
        f"alone take here ({imports(sweep) + start:.2f} s)",
        f"{stacked['timed']:.2f} s as timed; training {stacked['training'] / stacked['runs'] * 1e3:.1f} ms a run",
        f"One at a time: {single['timed']:.2f} s; training {single['training'] / single['runs'] * 1e3:.1f} ms a run",
        f"generators {step['forward ops']['uniform_'][1]:.0f} µs",
        f"one F1 loss call for the group {step['loss']:.0f} µs, Adam {step['adam']:.0f} µs",
    ]
    speed = (ROOT / "README.md").read_text(encoding="utf-8").split("and why: `python benchmarks/phases.py`", 1)[1]
    speed = " ".join(speed.split("Against plain PyTorch")[0].split())  # the text's line breaks are not figures
    missing = [text for text in expected if text not in speed]
    assert not missing, missing
