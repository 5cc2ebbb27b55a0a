"""Issue 24: ``hfa report`` over 900 run folders, beyond its start-up.

The folders: a real sweep of 90 small runs (losses bce, wbce, f1 x imbalance ratios 5, 10, 20 x seeds 0-9, 3
epochs), each folder then copied nine times under other seeds (its ``config.yaml`` seed and ``run.json`` run id
changed), 900 in all: the report reads, groups and tests them as it would 900 trained runs (10 distinct results per
cell, each 10 times). Start-up is the same command over 9 of them (one seed per cell): the interpreter, the
imports and the report's fixed work. Both are fresh ``hfa report --format markdown --out FILE`` processes,
alternated.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path

import yaml

from common import Row, Settings
from peers import hfa_command, median, run_process, script

TARGET_S = 1.0
COPIES = 10

CONFIG = """\
name: report900
seed: 0
data: {name: synthetic, n_samples: 4000, n_features: 2, cluster_std: 5.0}
model: {hidden: [16]}
train: {epochs: 3, batch_size: 256, lr: 0.003, patience: 0, device: cpu}
sweep:
  loss.name: [bce, wbce, f1]
  data.imbalance_ratio: [5, 10, 20]
  seed: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
"""


def _copy_run(folder: Path, target: Path, copy: int) -> None:
    shutil.copytree(folder, target)
    config_path, info_path = target / "config.yaml", target / "run.json"
    config = yaml.safe_load(config_path.read_text())
    config["seed"] += 1000 * copy
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    info = json.loads(info_path.read_text())
    info["run_id"] = f"{info['run_id']}-copy{copy}"
    if isinstance(info.get("files"), dict):  # the copy is a run of its own: its config's digest is the new one
        info["files"]["config.yaml"] = hashlib.sha256(config_path.read_bytes()).hexdigest()
    info_path.write_text(json.dumps(info))


def build(scratch: Path, settings: Settings) -> tuple[Path, Path]:
    """(a root of 900 run folders, a root of 9 of them)."""
    config = script(scratch, "report900.yaml", CONFIG)
    real = scratch / "real"
    run_process([*hfa_command(), "sweep", "--quiet", "--config", str(config), "--out", str(real)], settings)
    runs = sorted(p.parent for p in real.rglob("run.json"))
    many, few = scratch / "many", scratch / "few"
    for folder in runs:
        for copy in range(COPIES):
            _copy_run(folder, many / f"{folder.name}-{copy}", copy)
        if yaml.safe_load((folder / "config.yaml").read_text())["seed"] == 0:
            shutil.copytree(folder, few / folder.name)
    return many, few


def run(settings: Settings) -> list[Row]:
    repeats = 1 if settings.quick else 3
    with tempfile.TemporaryDirectory(prefix="hfa-report-") as tmp:
        scratch = Path(tmp)
        many, few = build(scratch, settings)
        n_many, n_few = (len(list(root.rglob("run.json"))) for root in (many, few))
        times: dict[str, list[float]] = {"many": [], "few": []}
        for i in range(repeats):
            for key, root in (("many", many), ("few", few)):
                argv = [*hfa_command(), "report", str(root), "--format", "markdown", "--out", str(scratch / f"{i}.md")]
                times[key].append(run_process(argv, settings).seconds)
    full, start = median(times["many"]), median(times["few"])
    beyond = full - start
    return [
        Row(
            case="report beyond start-up",
            size=f"{n_many} run folders",
            hfa=f"{full:.2f} s",
            baseline=f"{start:.2f} s ({n_few} runs)",
            ratio=TARGET_S / beyond if beyond > 0 else float("inf"),
            target=f"<= {TARGET_S:g} s beyond start-up",
            met=beyond <= TARGET_S,
            hfa_value=full,
            baseline_value=start,
            unit=f"s {settings.clock}, fresh process",
            repeats=repeats,
            note=f"hfa report over {n_many} folders takes {beyond:.2f} s more than over {n_few}; ratio = 1 s / that",
        )
    ]
