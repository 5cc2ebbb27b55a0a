"""Config loading, overrides and the one-line errors for every way a config can be wrong."""

from __future__ import annotations

import pytest

from hfa.config import AUTHORS_THRESHOLDS, Config, config_keys, load_config, parse_override, run_id
from hfa.errors import HfaError


def write(tmp_path, text: str, name: str = "c.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_defaults_are_the_spec_defaults():
    cfg = load_config()
    assert cfg.loss.thresholds == AUTHORS_THRESHOLDS
    assert cfg.eval.threshold == 0.5
    assert cfg.data.imbalance_ratio is None
    assert cfg.train.device == "auto"


def test_every_spec_key_exists():
    spec_keys = [
        *("name", "seed", "data.name", "data.imbalance_ratio", "data.val_size", "data.test_size"),
        *("data.n_samples", "data.n_features", "data.cluster_std", "data.target", "data.positive"),
        *("model.hidden", "model.dropout", "loss.name", "loss.beta", "loss.pos_weight", "loss.thresholds"),
        *("loss.delta", "train.epochs", "train.batch_size", "train.lr", "train.patience", "train.device"),
        "eval.threshold",
    ]
    assert set(spec_keys) <= set(config_keys())


def test_file_then_overrides(tmp_path):
    path = write(tmp_path, "name: demo\nloss: {name: fbeta, beta: 2}\ntrain: {epochs: 7}\n")
    cfg = load_config(path, ["train.epochs=3", "loss.thresholds=[0.5]", "data.imbalance_ratio=20", "model.hidden=[]"])
    assert (cfg.name, cfg.loss.name, cfg.loss.beta) == ("demo", "fbeta", 2.0)
    assert cfg.train.epochs == 3
    assert cfg.loss.thresholds == [0.5]
    assert cfg.data.imbalance_ratio == 20
    assert cfg.model.hidden == []


def test_override_values_are_yaml():
    assert parse_override("data.imbalance_ratio=null") == ("data.imbalance_ratio", None)
    assert parse_override("loss.pos_weight=auto") == ("loss.pos_weight", "auto")
    assert parse_override("train.lr=1e-2") == ("train.lr", 0.01)
    assert parse_override("model.hidden=[8, 4]") == ("model.hidden", [8, 4])


def test_mapping_override_merges_into_section():
    cfg = load_config(None, ["loss={name: fbeta, beta: 3}"])
    assert (cfg.loss.name, cfg.loss.beta, cfg.loss.delta) == ("fbeta", 3.0, 0.1)


@pytest.mark.parametrize(
    ("text", "overrides", "expected"),
    [
        (None, ["train.epochs"], "has no '='"),
        (None, ["=3"], "has no key"),
        (None, ["train.epoch=3"], "did you mean 'train.epochs'"),
        (None, ["loss.name=hinge"], "allowed: "),
        (None, ["train.epochs=0"], "'train.epochs'"),
        (None, ["data.imbalance_ratio=-2"], "'data.imbalance_ratio'"),
        (None, ["data.test_size=1"], "'data.test_size'"),
        (None, ["data.val_size=0.5", "data.test_size=0.5"], "val_size + test_size must be below 1"),
        (None, ["loss.delta=0.5"], "'loss.delta'"),
        (None, ["loss.thresholds=[0.5, 1.2]"], "every threshold must lie in (0, 1)"),
        (None, ["loss.thresholds=[]"], "at least one"),
        (None, ["train.device=tpu"], "'train.device'"),
        (None, ["model.activation=swish"], "allowed:"),
        (None, ["seed.x=1"], "unknown key 'seed.x'"),
        ("trian: {epochs: 2}\n", [], "did you mean 'train'"),
        ("train: {epochs: two}\n", [], "'train.epochs'"),
        ("- a\n- b\n", [], "must hold a mapping"),
        ("", [], "is empty"),
        ("train: [\n", [], "is not valid YAML"),
        ("x: !!python/object/apply:os.system ['echo hi']\n", [], "refuses to load"),
    ],
)
def test_bad_config_is_one_clear_line(tmp_path, text, overrides, expected):
    path = write(tmp_path, text) if text is not None else None
    with pytest.raises(HfaError) as info:
        load_config(path, overrides)
    message = str(info.value)
    assert expected in message
    assert "\n" not in message


def test_missing_config_file(tmp_path):
    with pytest.raises(HfaError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")


def test_run_id_is_stable_and_sensitive():
    a = Config.model_validate({"loss": {"name": "fbeta", "beta": 2}, "data": {"imbalance_ratio": 20}, "seed": 3})
    b = Config.model_validate(a.to_dict())
    assert run_id(a) == run_id(b)
    assert run_id(a).startswith("fbeta-beta-2_ir20_s3_")
    assert run_id(a) != run_id(a.model_copy(update={"seed": 4}))
    # Settings that only change speed keep the id.
    assert run_id(a) == run_id(
        load_config(None, ["loss.name=fbeta", "loss.beta=2", "data.imbalance_ratio=20", "seed=3", "train.stack=false"])
    )


def test_merge_keys_are_read_and_may_be_overridden() -> None:
    # The fair KEEL study's config shares its search ranges through `<<: *anchor`; a key written twice is still refused.
    from hfa.config import YamlDuplicateKeyError, load_yaml

    assert load_yaml("a: &x {p: 1, q: 2}\nb: {<<: *x, q: 3}") == {"a": {"p": 1, "q": 2}, "b": {"p": 1, "q": 3}}
    with pytest.raises(YamlDuplicateKeyError, match="'q' appears twice"):
        load_yaml("b: {<<: {p: 1}, q: 2, q: 3}")


def test_a_beta_listed_twice_tunes_one_rule_and_is_the_same_run():
    from hfa.config import load_config, run_id

    twice, once = (load_config(None, [f"eval.tune_betas={b}"]) for b in ("[2, 3, 2]", "[2, 3]"))
    assert twice.eval.tune_betas == [2.0, 3.0] and run_id(twice) == run_id(once)
