"""Where the time goes, for issue 24's targets that are not met: each case as one fresh process, its wall time cut
into phases.

    python benchmarks/phases.py [train100k] [train1m] [sweep30] [tune] [step]

A case runs in a child process that times its own imports (torch, pandas, hfa's command line), then runs the
command in-process with hfa's phases wrapped: loading and preparing the data (``hfa.runs.load_splits``), training
(``hfa.runs.train``, with the number of stacked steps and the members each step trained), evaluating and writing
each run's folder (``hfa.runs.finish_run``), and the rest. ``tune`` profiles both sides of ``bench_tune``: the
trials trained as stacks by ``hfa.tune`` (its two final runs included, whose time ``bench_tune`` takes off) and
one at a time through ``study.optimize``, so the ratio's parts show; ``step`` times one stacked step of the
tuning case in this process, part by part and its step plan's calls one by one. The figures are also written to
``benchmarks/results/phases-cpu-<date>.json``, which README's "Not met, and why" quotes.
The wrappers cost a few microseconds a call; the phases are wall seconds, and ``process`` is the child's whole
wall time, interpreter start-up included (it ends with ``os._exit``, as ``hfa``'s console script does).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

CASES = ("train100k", "train1m", "sweep30", "tune", "step")

_CHILD = r"""
import functools, json, sys, tempfile, time
start = time.perf_counter()
phases, counts = {}, {"steps": 0, "member_steps": 0, "runs": 0}

def timed(name, block):
    began = time.perf_counter()
    result = block()
    phases[name] = phases.get(name, 0.0) + time.perf_counter() - began
    return result

timed("import torch", lambda: __import__("torch"))
timed("import pandas", lambda: __import__("pandas"))
timed("import hfa's command line", lambda: __import__("hfa.cli.app"))

timed("import hfa's run modules", lambda: __import__("hfa.runs"))
import hfa.model, hfa.runs

def wrap(owner, attribute, phase):
    inner = getattr(owner, attribute)

    @functools.wraps(inner)
    def wrapper(*args, **kwargs):
        return timed(phase, lambda: inner(*args, **kwargs))

    setattr(owner, attribute, wrapper)

wrap(hfa.runs, "load_splits", "data")
wrap(hfa.runs, "train", "training")
wrap(hfa.runs, "finish_run", "evaluate and write run folders")
tape = hfa.model.StackedMLP.forward_tape

def counted(self, x):
    counts["steps"] += 1
    counts["member_steps"] += x.shape[0]
    return tape(self, x)

hfa.model.StackedMLP.forward_tape = counted
finish = hfa.runs.finish_run

def finished(*args, **kwargs):
    counts["runs"] += 1
    return finish(*args, **kwargs)

hfa.runs.finish_run = finished
case, argv = sys.argv[1], sys.argv[2:]
with tempfile.TemporaryDirectory() as scratch:
    if case == "tune":
        sys.path.insert(0, argv[0])
        import bench_tune
        from pathlib import Path
        import yaml

        path = Path(scratch) / "study.yaml"
        path.write_text(yaml.safe_dump(bench_tune.study(10, 2, 100)))
        timed("data (warm-up load)", lambda: bench_tune.warm_up(path))
        sides = {}
        for side, call in (("stacked", bench_tune.stacked), ("one at a time", bench_tune.one_at_a_time)):
            before, counted_before = dict(phases), dict(counts)
            seconds, _ = call(path, Path(scratch) / side.replace(" ", "-"))
            sides[side] = {
                "timed": seconds,
                **{k: v - before.get(k, 0.0) for k, v in phases.items() if v - before.get(k, 0.0) > 0},
                **{k: v - counted_before[k] for k, v in counts.items()},
            }
        print(json.dumps({"sides": sides, "imports": {k: v for k, v in phases.items() if k.startswith("import")}}))
    else:
        from hfa.cli.app import app

        try:
            timed("the command", lambda: app([*argv, "--out", scratch], standalone_mode=False))
        except SystemExit:
            pass
        inner = ("data", "training", "evaluate and write run folders")
        phases["the rest of the command"] = phases.pop("the command") - sum(phases.get(k, 0.0) for k in inner)
        phases["in-process total"] = time.perf_counter() - start
        print(json.dumps({"phases": phases, "counts": counts}))
sys.stdout.flush()
import os
os._exit(0)  # as hfa's console script ends (hfa.cli.main): the interpreter's teardown of torch is not hfa's time
"""


def step_profile(members: int = 20, rows: int = 128, features: int = 8, repeats: int = 500) -> dict:
    """The tuning case's stacked step (hidden 32, dropout 0.1, one F1 loss group with a ``delta`` per member),
    timed part by part, and the step plan's bound calls timed one by one and summed by operation (microseconds)."""
    import torch

    from hfa.config import Config
    from hfa.losses import F1Loss, group_losses
    from hfa.model import StackedMLP, build_model
    from hfa.optim import StackedAdam

    torch.set_num_threads(1)
    cfg = Config()
    cfg.model.hidden, cfg.model.dropout = [32], 0.1
    models = [build_model(features, cfg.model, seed=m) for m in range(members)]
    stack = StackedMLP(models, [torch.Generator().manual_seed(m) for m in range(members)]).train()
    optimizer = StackedAdam(list(stack.parameters()), lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(members, rows, features, generator=generator)
    y = (torch.rand(members, rows, generator=generator) < 0.1).float()
    ((_, loss),) = group_losses([F1Loss(delta=0.05 + 0.02 * m) for m in range(members)])

    def us(call, n: int = repeats) -> float:
        for _ in range(20):
            call()
        began = time.perf_counter()
        for _ in range(n):
            call()
        return (time.perf_counter() - began) / n * 1e6

    logits, plan = stack.forward_tape(x)
    _, grad = loss.value_and_grad(logits, y)
    result: dict = {
        "members": members,
        "forward": us(lambda: stack.forward_tape(x)),
        "loss": us(lambda: loss.value_and_grad(logits, y)),
        "backward": us(lambda: stack.backward_tape(plan, grad, optimizer.grads)),
        "adam": us(lambda: optimizer.step(optimizer.grad)),
    }
    for part, calls in (("forward ops", plan.forward_ops), ("backward ops", plan._backward_ops(optimizer.grads))):
        summed: dict[str, list[float]] = {}
        for call in calls:
            name = getattr(getattr(call, "func", call), "__name__", "call")
            entry = summed.setdefault(name, [0, 0.0])
            entry[0] += 1
            entry[1] += us(call, repeats // 2)
        result[part] = summed
    return result


def _train_argv(rows: int) -> list[str]:
    from bench_peers import _hfa_argv

    argv = _hfa_argv(rows, Path("unused"))
    at = argv.index("train")
    overrides = argv[at + 1 :]
    cut = overrides.index("--out")
    return ["train", *overrides[:cut], *overrides[cut + 2 :]]


def _sweep_argv(scratch: Path) -> list[str]:
    from bench_sweep30 import CONFIG

    config = scratch / "sweep30.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    return ["sweep", "--config", str(config)]


def profile(case: str, scratch: Path) -> dict:
    if case == "tune":
        argv = [str(HERE)]
    elif case == "sweep30":
        argv = _sweep_argv(scratch)
    else:
        argv = _train_argv(100_000 if case == "train100k" else 1_000_000)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    if case == "tune":
        env["OMP_NUM_THREADS"] = "1"  # as bench_tune is run, and hfa tune trains
    began = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, case, *argv],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=scratch,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["process"] = time.perf_counter() - began
    return result


def show(case: str, result: dict) -> None:
    if case == "step":
        print(f"\nstep: one stacked training step of the tuning case, {result['members']} members (microseconds)")
        for part in ("forward", "loss", "backward", "adam"):
            print(f"  {part:38s} {result[part]:8.1f}")
        for part in ("forward ops", "backward ops"):
            for name, (count, micros) in result[part].items():
                print(f"    {part[:-4]} {name} x{count:<3d} {micros:8.1f}")
        return
    print(f"\n{case}: {result['process']:.2f} s, the whole process")
    if "sides" in result:
        for name, seconds in result["imports"].items():
            print(f"  {name:38s} {seconds:6.2f} s")
        for side, counted in result["sides"].items():
            parts = dict(counted)
            runs = parts.pop("runs")
            steps, member_steps = parts.pop("steps"), parts.pop("member_steps")
            print(f"  {side}: {parts.pop('timed'):.2f} s as bench_tune times it, {runs} runs")
            for name, seconds in parts.items():
                print(f"    {name:36s} {seconds:6.2f} s  ({seconds / max(runs, 1) * 1e3:5.1f} ms a run)")
            print(f"    {steps} steps training {member_steps} member-steps")
        return
    for name, seconds in result["phases"].items():
        print(f"  {name:38s} {seconds:6.2f} s")
    counts = result["counts"]
    print(f"  {counts['runs']} run(s); {counts['steps']} steps training {counts['member_steps']} member-steps")
    training = result["phases"].get("training", 0.0)
    if counts["steps"]:
        print(f"  training: {training / counts['steps'] * 1e3:.2f} ms a step")


def main(argv: list[str]) -> int:
    import tempfile

    sys.path.insert(0, str(HERE))
    chosen = argv or list(CASES)
    unknown = [case for case in chosen if case not in CASES]
    if unknown:
        print(f"phases.py: error: unknown case {', '.join(unknown)}; allowed: {', '.join(CASES)}", file=sys.stderr)
        return 2
    path = HERE / "results" / f"phases-cpu-{datetime.now(timezone.utc):%Y-%m-%d}.json"
    # The day's file keeps every case measured that day; a case measured again replaces its entry.
    results = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    for case in chosen:
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        if case == "step":
            result = step_profile()
        else:
            with tempfile.TemporaryDirectory(prefix="hfa-phases-") as scratch:
                result = profile(case, Path(scratch))
        show(case, result)
        stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
        results[case] = {"timestamp": stamp, "load_avg_1m_at_start": load, **result}
    path.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
