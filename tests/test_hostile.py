"""Hostile input (issue 12): every value, file and place is refused before any training, in one line.

Each case is checked through the command line as a user meets it: exit status 2, exactly one line, the
offending key/file/place named, and no training started (``prepare_data``/``fit`` fail the test if reached).
"""

from __future__ import annotations

import errno
import socket
import sys

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import hfa.data
import hfa.runs
from hfa.cli import app
from hfa.config import MAX_YAML_VALUES, load_config, load_yaml, read_yaml
from hfa.errors import HfaError, shorten

runner = CliRunner()


def one_line(result, status: int = 2) -> str:
    assert result.exit_code == status, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    return lines[0]


@pytest.fixture
def no_training(monkeypatch):
    """Reaching the data or the trainer means a check came too late."""

    def refuse(*args, **kwargs):
        raise AssertionError("training started before the input was checked")

    for module, name in [(hfa.data, "prepare_data"), (hfa.runs, "prepare_data"), (hfa.runs, "train")]:
        monkeypatch.setattr(module, name, refuse)


def train(*args) -> object:
    return runner.invoke(app, ["train", *map(str, args)])


# ---------------------------------------------------------------------------------------------- config values


@pytest.mark.parametrize(
    ("override", "words"),
    [
        ("train.lr=.inf", ["'train.lr'", "finite"]),
        ("train.lr=.nan", ["'train.lr'", "finite"]),
        ("train.weight_decay=.inf", ["'train.weight_decay'", "finite"]),
        ("data.imbalance_ratio=.inf", ["'data.imbalance_ratio'", "finite"]),
        ("data.imbalance_ratio=-.inf", ["'data.imbalance_ratio'"]),
        ("data.positive=.nan", ["'data.positive'", "finite"]),
        ("data.cluster_std=.inf", ["'data.cluster_std'", "finite"]),
        ("data.val_size=.nan", ["'data.val_size'", "finite"]),
        ("loss.pos_weight=.inf", ["'loss.pos_weight'"]),
        ("loss.beta=.nan", ["'loss.beta'", "finite"]),
        ("loss.thresholds=[0.5,.nan]", ["'loss.thresholds", "finite"]),
        ("eval.threshold=.nan", ["'eval.threshold'", "finite"]),
        ("model.hidden=[100000,100000]", ["'model.hidden'", "16384"]),
        ("model.hidden=[16000,16000,16000]", ["'model.hidden'", "100,000,000"]),
        ("data.n_samples=10000000000", ["'data.n_samples'", "10000000"]),
        ("data.n_features=1000000", ["'data.n_features'", "10000"]),
        ("data.n_features=5000", ["n_samples x n_features", "100,000,000"]),
        ("train.epochs=10000000000", ["'train.epochs'", "1000000"]),
        ("train.lr=1000", ["'train.lr'", "10"]),
        ("loss.gamma=1e9", ["'loss.gamma'", "100"]),
        ("name=" + "a" * 300, ["'name'", "at most 100 characters"]),
    ],
)
def test_values_that_make_no_sense_are_refused(override, words, tmp_path, no_training):
    extra = ["data.n_samples=100000"] if "n_features=5000" in override else []
    line = one_line(train("--out", tmp_path / "runs", override, *extra))
    for word in words:
        assert word in line, line
    assert len(line) < 400, "a user value is serialised whole"
    assert not (tmp_path / "runs").exists()


def test_bounds_leave_realistic_settings_alone():
    cfg = load_config(overrides=["model.hidden=[4096,4096]", "data.n_samples=1000000", "data.imbalance_ratio=1000"])
    assert cfg.model.hidden == [4096, 4096] and cfg.data.n_samples == 1_000_000


# ---------------------------------------------------------------------------------------------- YAML aliases


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """The issue's 1.3 KB file: nine chained anchors, nine aliases each, the last under a valid key."""
    lines = ["sweep:", "  a: &a [" + ", ".join(['"lol"'] * width) + "]"]
    for previous, name in zip("abcdefghijklmnop", "bcdefghijklmnop"[: levels - 1], strict=False):
        lines.append(f"  {name}: &{name} [" + ", ".join([f"*{previous}"] * width) + "]")
    last = "abcdefghijklmnop"[levels - 1]
    return "\n".join([*lines, f"name: *{last}", ""])


def test_an_alias_bomb_is_refused_at_load(tmp_path, no_training):
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb())
    assert len(path.read_bytes()) < 1500
    line = one_line(train("--config", path, "--out", tmp_path / "runs"))
    assert str(path) in line and f"{MAX_YAML_VALUES:,}" in line and "aliases" in line


def test_an_alias_bomb_in_an_override_or_a_grid_is_refused(tmp_path, no_training):
    value = "[&a [1,1,1,1,1,1,1,1,1], " + ", ".join(
        f"&{n} [{', '.join([f'*{p}'] * 9)}]" for p, n in zip("abcde", "bcdef", strict=True)
    )
    line = one_line(train("--out", tmp_path / "runs", f"name={value}, *f]"))
    assert "override" in line and "aliases" in line and len(line) < 400
    result = runner.invoke(app, ["sweep", "--out", str(tmp_path / "runs"), "--grid", f"seed={value}, *f]"])
    assert "aliases" in one_line(result)


def test_a_recursive_alias_is_refused(tmp_path):
    path = tmp_path / "loop.yaml"
    path.write_text("sweep: &s {seed: *s}\n")
    with pytest.raises(HfaError, match="recursive alias"):
        read_yaml(path)


def test_modest_aliases_still_work():
    assert load_yaml("a: &w [32, 32]\nb: *w\n") == {"a": [32, 32], "b": [32, 32]}
    # Within the bound: 8**5 = 32,768 values once expanded.
    assert len(str(load_yaml(alias_bomb(levels=5, width=8).replace("name: *e", "x: 1")))) > 0


def test_errors_never_serialise_a_value_whole():
    shared: list = ["lol"] * 9
    for _ in range(40):  # 9**41 values once expanded: walking it whole would never end
        shared = [shared] * 9
    text = shorten(shared)
    assert len(text) <= 82 and text.endswith("…")
    assert shorten("x" * 10_000).endswith("…") and len(shorten("x" * 10_000)) <= 82
    assert shorten([1, 2.5, "a", None, True]) == '[1, 2.5, "a", null, true]'


# ---------------------------------------------------------------------------------------------- data after loading


def write_csv(path, frame):
    frame.to_csv(path, index=False)
    return path


def frame_with(column_a) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = len(column_a)
    return pd.DataFrame({"a": column_a, "b": rng.normal(size=n), "y": np.tile([0, 1], n // 2)})


@pytest.mark.parametrize(
    ("frame", "words"),
    [
        (pd.DataFrame({"a": [np.nan] * 40, "b": [np.nan] * 40, "y": [0, 1] * 20}), ["every feature column", "empty"]),
        (frame_with([1.0] * 39 + [np.inf]), ["'a'", "inf", "row 40", "finite"]),
        (frame_with([1.0] * 20 + [-np.inf] * 20), ["'a'", "-inf", "20 such cells"]),
        # Not aligned with y's 0, 1, 0, 1 (that would be a relabelling of the target, refused first).
        (frame_with([1e308, -1e308, -1e308, 1e308] * 10), ["'a'", "1e+308", "at most 1e+30"]),
    ],
)
def test_data_that_breaks_after_loading_is_refused(frame, words, tmp_path, monkeypatch):
    monkeypatch.setattr(hfa.runs, "train", lambda *a, **k: pytest.fail("training started"))
    path = write_csv(tmp_path / "data.csv", frame)
    line = one_line(train("--out", tmp_path / "runs", f"data.name={path}", "data.target=y"))
    assert str(path) in line
    for word in words:
        assert word in line, line


def test_an_identifier_column_is_refused_before_one_hot_encoding_it(tmp_path):
    frame = frame_with([1.0] * 20_002).assign(a=[f"id-{i}" for i in range(20_002)])
    path = write_csv(tmp_path / "data.csv", frame)
    line = one_line(train("--out", tmp_path / "runs", f"data.name={path}", "data.target=y"))
    assert "20,002 distinct values" in line and "'a'" in line and "at most 10,000" in line


def test_a_grid_too_large_is_refused_before_it_is_expanded(tmp_path, no_training):
    grid = [
        "--grid",
        "seed=" + ",".join(map(str, range(1000))),
        "--grid",
        "train.epochs=" + ",".join(map(str, range(1, 1001))),
    ]
    line = one_line(runner.invoke(app, ["sweep", "--out", str(tmp_path), *grid]))
    assert "1,000,000 runs" in line and "at most 100,000" in line


def test_large_but_finite_features_still_train(tmp_path):
    from hfa.config import DataConfig
    from hfa.data import prepare_data

    path = write_csv(tmp_path / "data.csv", frame_with(np.linspace(-1e20, 1e20, 200)))
    splits = prepare_data(DataConfig(name=str(path), target="y"))
    assert np.isfinite(splits.x_train).all() and splits.n_features == 2


# ---------------------------------------------------------------------------------------------- output places


def test_out_naming_a_file_is_refused_up_front(tmp_path, no_training):
    afile = tmp_path / "afile"
    afile.write_text("")
    for out in (afile, afile / "below"):
        line = one_line(train("--out", out))
        assert "is a file, not a folder" in line and str(afile) in line


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")
def test_out_under_proc_is_refused_up_front(no_training):
    line = one_line(train("--out", "/proc/hfa-runs"))
    assert "/proc/hfa-runs" in line and "not writable" in line


def test_a_read_only_out_is_refused_up_front(tmp_path, monkeypatch, no_training):
    # Tests may run as root, which no permission bit stops; a read-only mount answers EROFS, as here.
    import hfa.io

    def read_only(parent, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(parent))

    monkeypatch.setattr(hfa.io, "create_unique", read_only)
    line = one_line(train("--out", tmp_path / "ro"))
    assert "not writable: Read-only file system" in line


def test_a_name_too_long_for_the_file_system_is_refused_up_front(tmp_path, no_training):
    line = one_line(train("--out", tmp_path / ("b" * 300)))
    assert "exceeds the file system's limit" in line and len(line) < 400


def test_sweep_checks_its_output_place_before_training(tmp_path, no_training):
    afile = tmp_path / "afile"
    afile.write_text("")
    result = runner.invoke(app, ["sweep", "--out", str(afile), "--grid", "seed=0,1", "--quiet"])
    assert "is a file, not a folder" in one_line(result)


# ---------------------------------------------------------------------------------------------- Ray addresses


@pytest.mark.parametrize("address", ["garbage", "host:99999", "ray://", "http://x:1/path", "a b:1"])
def test_a_malformed_ray_address_exits_2(address, tmp_path, monkeypatch, no_training):
    monkeypatch.setenv("RAY_ADDRESS", address)
    result = runner.invoke(app, ["sweep", "--out", str(tmp_path), "--grid", "seed=0,1", "--executor", "ray"])
    line = one_line(result)
    assert "$RAY_ADDRESS" in line and "is not a Ray address" in line and "HOST:PORT" in line
    monkeypatch.delenv("RAY_ADDRESS")
    result = runner.invoke(app, ["sweep", "--out", str(tmp_path), "--grid", "seed=0,1", "--ray-address", address])
    assert "--ray-address" in one_line(result)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("scheme", ["", "ray://"])
def test_an_unreachable_ray_address_gives_up_with_one_line(scheme, tmp_path, no_training):
    address = f"{scheme}127.0.0.1:{closed_port()}"
    args = ["sweep", "--out", str(tmp_path), "--grid", "seed=0,1", "--executor", "ray", "--ray-address", address]
    result = runner.invoke(app, [*args, "--quiet"])
    line = one_line(result)
    assert f"cannot reach the Ray cluster at --ray-address={address}" in line and "gives up after 10 s" in line


def test_a_silent_ray_address_gives_up_after_the_stated_time(tmp_path, monkeypatch, no_training):
    import hfa.preflight

    waited = []

    def silent(address, timeout):
        waited.append(timeout)
        raise TimeoutError("timed out")

    monkeypatch.setattr(hfa.preflight.socket, "create_connection", silent)  # the one reachability check
    args = [
        "sweep",
        "--out",
        str(tmp_path),
        "--grid",
        "seed=0,1",
        "--executor",
        "ray",
        "--ray-address",
        "10.1.2.3:6379",
    ]
    line = one_line(runner.invoke(app, [*args, "--quiet"]))
    assert waited == [hfa.executors.RAY_CONNECT_TIMEOUT_S] and "timed out" in line


def test_ray_started_by_hfa_is_shut_down_when_the_sweep_is_stopped(monkeypatch):
    """A stand-in for Ray: the sweep is interrupted while waiting; its tasks are cancelled, Ray is shut down."""
    import types

    import hfa.executors

    calls: list[str] = []
    fake = types.SimpleNamespace(
        is_initialized=lambda: False,
        init=lambda **kwargs: calls.append("init"),
        remote=lambda **kwargs: lambda f: types.SimpleNamespace(remote=lambda *a: "ref"),
        wait=lambda refs, **kwargs: (_ for _ in ()).throw(KeyboardInterrupt()),
        cancel=lambda ref, force: calls.append(f"cancel {ref}"),
        shutdown=lambda: calls.append("shutdown"),
    )
    monkeypatch.setitem(sys.modules, "ray", fake)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    with pytest.raises(KeyboardInterrupt):
        list(hfa.executors.on_ray(len, [[1], [2]], 2, None))
    assert calls == ["init", "cancel ref", "cancel ref", "shutdown"]


# ---------------------------------------------------------------------------------------------- reading runs back


@pytest.mark.parametrize(
    ("config_text", "words"),
    [
        ("- 1\n- 2\n", ["config.yaml", "must hold a YAML mapping", "list"]),
        ("just text\n", ["config.yaml", "must hold a YAML mapping", "str"]),
        ("loss: 3\n", ["config.yaml", "'loss' must be a mapping", "int"]),
    ],
)
def test_report_over_a_run_whose_config_is_not_a_mapping(config_text, words, tmp_path):
    folder = tmp_path / "exp" / "r1"
    folder.mkdir(parents=True)
    (folder / "run.json").write_text('{"status": "ok", "run_id": "r1"}')
    (folder / "config.yaml").write_text(config_text)
    (folder / "metrics.csv").write_text("split,rule,threshold,f1\ntest,fixed,0.5,0.7\n")
    line = one_line(runner.invoke(app, ["report", str(tmp_path)]))
    for word in words:
        assert word in line, line


def test_yaml_written_by_hfa_reads_back(tmp_path):
    # The bounded loader must accept what hfa itself writes (no aliases, plain values).
    text = yaml.safe_dump(load_config().to_dict())
    assert load_yaml(text) == load_config().to_dict()


def test_config_yaml_is_what_yaml_safe_dump_writes(tmp_path):
    # write_yaml takes libyaml's emitter for speed; its text must be PyYAML's own, odd values included.
    from hfa.io import write_yaml

    config = load_config().to_dict()
    config["name"] = "naïve: run #1 — 'quoted'"
    config["loss"]["pos_weight"] = [1e-05, 0.1, 123456.7, float("inf")]
    config["data"]["path"] = None
    write_yaml(tmp_path / "config.yaml", config)
    assert (tmp_path / "config.yaml").read_text(encoding="utf-8") == yaml.safe_dump(config, sort_keys=False)


def test_the_input_layer_counts_towards_the_weight_bound(tmp_path, no_training):
    line = one_line(train("data.n_features=10000", "model.hidden=[16384]", "--out", tmp_path / "o"))
    assert "163,840,000 weights" in line and not (tmp_path / "o").exists()
    from hfa.config import ModelConfig
    from hfa.model import build_model

    with pytest.raises(HfaError, match="20,000 inputs into hidden widths"):  # a table wider than its config knew
        build_model(20_000, ModelConfig(hidden=[8192]))
