"""A tuning study as a validated plan: methods, the ranges searched, the budget, the objective and the seeds.

A tune config is an ordinary config (the defaults every method starts from) with three more blocks:

    methods:                      # name -> the config values that make the method (any keys)
      bce: {loss.name: bce}
      focal: {loss.name: focal, search: {loss.gamma: {low: 0.5, high: 5}}}   # ranges of this method alone
      f1: {loss.name: f1, search: [*lr, {loss.delta: {low: 0.02, high: 0.45}}]}  # blocks merged: an alias + its own
    search:                       # ranges every method shares
      train.lr: {low: 1.0e-4, high: 1.0e-2, log: true}
      model.hidden: {choices: [[32], [64, 64]]}
    tune: {budget: 20, batch: 4, metric: f1, rule: tuned, seeds: [0], final_seeds: [100, 101, 102, 103, 104]}

and optionally ``sweep:``, whose points (data sets, ratios) are each tuned apart. Everything is checked here,
before any training: every way a plan can be wrong is a one-line ``HfaError``. No Optuna, no torch.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hfa.config import (
    Config,
    check_key,
    inapplicable_keys,
    parse_override,
    resolve,
    set_dotted,
    source_name,
    validate,
)
from hfa.errors import HfaError, clip, shorten

MAX_BUDGET = 10_000  # trials per method and sweep point: each is a run folder (or several)
REPLICATE = ("seed", "data.seed", "data.fold", "name")  # set by the study itself, never searched or set by a method
RULE_PATTERN = re.compile(r"^(fixed|tuned|mean|tuned_f\d+(\.\d+)?)$")
METHOD_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
TUNE_KEYS = ("budget", "batch", "metric", "rule", "seeds", "folds", "final_seeds", "sampler_seed")


@dataclass(frozen=True)
class Range:
    """One searched key: a float or int interval (``log`` for a log scale) or a list of choices."""

    key: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False
    choices: tuple[str, ...] = ()  # JSON texts: Optuna's categorical choices must be scalars, a width list is not

    def extremes(self) -> list[Any]:
        """The values whose validity bounds every value of the range (the ends, or each choice)."""
        if self.choices:
            return [json.loads(c) for c in self.choices]
        return [self.low, self.high]

    def value(self, sampled: Any) -> Any:
        """A sampled parameter as the config value it sets."""
        return json.loads(sampled) if self.choices else sampled


@dataclass(frozen=True)
class Method:
    name: str
    settings: dict[str, Any]  # dotted key -> value
    ranges: tuple[Range, ...]


@dataclass
class Plan:
    """A validated study: per sweep point and method a base config, the ranges, and the tuning settings."""

    name: str
    base: dict[str, Any]  # the raw config, sweep and the study blocks removed
    points: list[dict[str, Any]]  # sweep points: dotted key -> value ({} without a sweep block)
    methods: list[Method]
    budget: int
    batch: int
    metric: str
    rule: str
    seeds: list[int]
    final_seeds: list[int]
    sampler_seed: int
    folds: int | None = None  # data.folds of the runs (k-fold), found from the configs
    tune_folds: list[int] | None = None  # the folds a trial trains on (tune.folds; default every fold)
    axes: dict[str, list[Any]] = field(default_factory=dict)

    def config(self, point: Mapping[str, Any], method: Method, params: Mapping[str, Any], seed: int, fold: int = 0):
        """The validated config of one run: base, sweep point, method, sampled values, seed (and fold)."""
        raw = copy.deepcopy(self.base)
        for key, value in [*point.items(), *method.settings.items(), *params.items()]:
            set_dotted(raw, key, value)
        raw["name"] = method.name
        raw["seed"] = seed
        if self.folds is not None:
            set_dotted(raw, "data.fold", fold)
        where = ", ".join(f"{k}={v}" for k, v in {**point, **params}.items())
        return validate(raw, f"method {method.name}" + (f" at {where}" if where else ""))

    def repeats(self, seeds: Sequence[int], folds: Sequence[int] | None = None) -> list[tuple[int, int]]:
        """(seed, fold) of every run a setting is trained on: each seed, and under k-fold each fold of it (or
        each of ``folds``)."""
        every = range(self.folds) if self.folds is not None else [0]
        return [(seed, fold) for seed in seeds for fold in (every if folds is None or self.folds is None else folds)]

    def first_configs(self) -> list[Config]:
        """One config per sweep point and method (the first seed's): what every run of the study needs to exist."""
        return [self.config(point, method, {}, self.seeds[0]) for point in self.points for method in self.methods]

    def study_name(self, point: Mapping[str, Any], method: Method) -> str:
        return json.dumps({"method": method.name, **point}, sort_keys=True, default=str)


def point_label(point: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in point.items()) or "the config"


def load_plan(
    config: str | Path | Mapping[str, Any] | None,
    overrides: Sequence[str] = (),
    methods: Sequence[str] = (),
    budget: int | None = None,
) -> Plan:
    """Read and check a tune config (a YAML path or its content as a mapping); ``methods`` keeps only those (by
    name), ``budget`` replaces the configured one."""
    from hfa.sweep import grid_axes

    raw = resolve(config, [item for item in overrides if not item.startswith("tune.")])
    source = source_name(config)
    study = {k: raw.pop(k, None) for k in ("tune", "methods", "search")}
    tune = _mapping(study["tune"], "tune", source)
    for item in overrides:  # tune.budget=8 and the like, checked as the block is
        if item.startswith("tune."):
            key, value = parse_override(item)
            tune[key.removeprefix("tune.")] = value
    for key in tune:
        if key not in TUNE_KEYS:
            raise HfaError(f"unknown key 'tune.{clip(str(key))}' in {source}; allowed: {', '.join(TUNE_KEYS)}")
    if budget is not None:
        tune["budget"] = budget
    pinned = [parse_override(item)[0] for item in overrides if not item.startswith("tune.")]
    axes = grid_axes(raw.pop("sweep", None), [], pinned, source)
    for key in axes:
        if key in REPLICATE:
            raise HfaError(f"sweep key {key!r} in {source}: the study sets seeds and folds itself (tune.seeds, ...)")
    points = [dict(zip(axes, values, strict=True)) for values in itertools.product(*axes.values())] or [{}]
    declared_raw = study["methods"]
    if methods and isinstance(declared_raw, dict):
        # Only the methods asked for are read: one whose keys this version lacks does not stop the others.
        names = [str(name) for name in declared_raw]
        for name in methods:
            if name not in names:
                raise HfaError(f"unknown method {clip(name)!r}; {source} declares: {', '.join(names)}")
        declared_raw = {name: spec for name, spec in declared_raw.items() if str(name) in methods}
    declared = parse_methods(declared_raw, source)
    shared = _ranges(study["search"], f"'search' in {source}")
    declared = [Method(m.name, m.settings, (*shared, *m.ranges)) for m in declared]
    plan = Plan(
        name=_name(raw, source),
        base=raw,
        points=points,
        methods=declared,
        budget=_count(tune.get("budget", 20), "tune.budget", 1, MAX_BUDGET),
        batch=_count(tune.get("batch", 8), "tune.batch", 1, MAX_BUDGET),
        metric=_metric(tune.get("metric", "f1")),
        rule=_rule(tune.get("rule", "tuned")),
        seeds=_seeds(tune.get("seeds", [0]), "tune.seeds"),
        final_seeds=_seeds(tune.get("final_seeds", [100, 101, 102, 103, 104]), "tune.final_seeds"),
        sampler_seed=_count(tune.get("sampler_seed", 0), "tune.sampler_seed", 0, 2**32 - 1),
        axes=axes,
    )
    if "folds" in tune:
        plan.tune_folds = _seeds(tune["folds"], "tune.folds")
    seen: dict[str, str] = {}
    for method in plan.methods:  # a method is a folder of the study's trials and finals
        other = seen.setdefault(method.name.lower(), method.name)
        if other != method.name:
            raise HfaError(f"methods {other!r} and {method.name!r} differ only in case; their folders would clash")
    overlap = sorted(set(plan.seeds) & set(plan.final_seeds))
    if overlap:
        raise HfaError(
            f"tune.final_seeds share seeds {overlap} with tune.seeds; the chosen settings are retrained on fresh "
            "seeds (fresh splits), so the two lists must not overlap"
        )
    _check_configs(plan)
    if plan.tune_folds is not None:
        if plan.folds is None:
            raise HfaError("tune.folds lists the folds a trial trains on; it needs data.folds (k-fold)")
        if max(plan.tune_folds) >= plan.folds:
            raise HfaError(f"tune.folds {plan.tune_folds} must lie in 0..{plan.folds - 1} for data.folds={plan.folds}")
    _check_size(plan)
    return plan


def _check_size(plan: Plan) -> None:
    """At most as many runs as one sweep may make: every trial and final run is a folder, planned up front."""
    from hfa.sweep import MAX_RUNS

    trial_runs = plan.budget * len(plan.repeats(plan.seeds, plan.tune_folds))
    final_runs = len(plan.repeats(plan.final_seeds))
    total = len(plan.points) * len(plan.methods) * (trial_runs + final_runs)
    if total > MAX_RUNS:
        raise HfaError(
            f"the study makes {total:,} runs ({len(plan.points)} sweep point(s) x {len(plan.methods)} method(s) x "
            f"({trial_runs:,} trial + {final_runs:,} final runs)); at most {MAX_RUNS:,} in one study: lower "
            "tune.budget, tune.seeds, tune.final_seeds or the sweep"
        )


def _mapping(value: Any, what: str, source: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise HfaError(f"'{what}' in {source} must be a mapping, got {shorten(value)}")
    return dict(value)


def _name(raw: Mapping[str, Any], source: str) -> str:
    name = raw.get("name", Config().name)
    validate({"name": name}, source)
    return str(name)


def _count(value: Any, key: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise HfaError(f"{key} must be a whole number in [{low}, {high:,}] (got {shorten(value)})")
    return value


def _seeds(value: Any, key: str) -> list[int]:
    if not isinstance(value, list) or not value:
        raise HfaError(f"{key} must be a non-empty list of seeds, e.g. [0, 1, 2] (got {shorten(value)})")
    seeds = [_count(v, key, 0, 2**32 - 1) for v in value]
    if len(set(seeds)) != len(seeds):
        raise HfaError(f"{key} lists a seed twice: {shorten(seeds)}")
    return seeds


def _metric(value: Any) -> str:
    from hfa.metrics import fbeta_of, is_count_metric

    allowed = ("roc_auc", "average_precision")
    if not isinstance(value, str) or not (is_count_metric(value) or value in allowed or fbeta_of(value)):
        raise HfaError(
            f"tune.metric {shorten(value)} is not a metric of metrics.csv; allowed: f1, f<beta>, mcc, precision, "
            "recall, balanced_accuracy, accuracy, g_mean, roc_auc, average_precision"
        )
    return value


def _rule(value: Any) -> str:
    if not isinstance(value, str) or not RULE_PATTERN.match(value):
        raise HfaError(
            f"tune.rule {shorten(value)} is not a threshold rule; allowed: fixed, tuned, mean, tuned_f<beta>"
        )
    return value


def parse_methods(value: Any, source: str) -> list[Method]:
    """A ``methods:`` block: name -> the config values that make the method, and its own ``search:`` ranges."""
    if not isinstance(value, dict) or not value:
        raise HfaError(
            f"'methods' in {source} must map method names to config values, e.g. 'methods: {{bce: {{loss.name: bce}}}}'"
        )
    out = []
    for name, spec in value.items():
        name = str(name)
        if not METHOD_NAME.match(name) or len(name) > 100:
            raise HfaError(f"method name {clip(name)!r} in {source}: use letters, digits, '_', '.', '-' (a folder)")
        spec = _mapping(spec, f"methods.{name}", source)
        ranges = _ranges(spec.pop("search", None), f"'methods.{name}.search' in {source}")
        settings: dict[str, Any] = {}
        for key, setting in spec.items():
            key = str(key)
            check_key(key, f"method {name} of {source}")
            if key in REPLICATE:
                raise HfaError(f"method {name} in {source} sets {key!r}; the study sets seeds, folds and names itself")
            settings[key] = setting
        out.append(Method(name, settings, ranges))
    return out


def _ranges(value: Any, where: str) -> tuple[Range, ...]:
    if value is None:
        return ()
    if isinstance(value, list) and all(isinstance(block, dict) for block in value):
        # A list of range blocks, e.g. [*mlp, {loss.delta: ...}]: shared ranges by alias (YAML has no merge key).
        merged: dict[str, Any] = {}
        for block in value:
            for key in block:
                if key in merged:
                    raise HfaError(f"{where} gives a range of {clip(str(key))!r} twice")
            merged.update(block)
        value = merged
    if not isinstance(value, dict):
        raise HfaError(f"{where} must map dotted keys to ranges, e.g. 'train.lr: {{low: 1.0e-4, high: 1.0e-2}}'")
    return tuple(_range(str(key), spec, where) for key, spec in value.items())


def _range(key: str, spec: Any, where: str) -> Range:
    check_key(key, where)
    if key in REPLICATE:
        raise HfaError(f"{where}: {key!r} is not searched; the study sets seeds, folds and names itself")
    if not isinstance(spec, dict):
        raise HfaError(f"{where}: the range of {key!r} must be {{low: A, high: B[, log: true]}} or {{choices: [...]}}")
    extra = set(spec) - {"low", "high", "log", "choices"}
    if extra:
        raise HfaError(f"{where}: {key!r} has unknown field {sorted(extra)[0]!r}; allowed: low, high, log, choices")
    if "choices" in spec:
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            raise HfaError(f"{where}: the choices of {key!r} are empty; list at least one value")
        if set(spec) != {"choices"}:
            raise HfaError(f"{where}: {key!r} gives choices and bounds; give one or the other")
        texts = tuple(json.dumps(c) for c in choices)
        if len(set(texts)) != len(texts):
            raise HfaError(f"{where}: the choices of {key!r} list a value twice")
        return Range(key, choices=texts)
    low, high = spec.get("low"), spec.get("high")
    for bound in (low, high):
        if isinstance(bound, bool) or not isinstance(bound, (int, float)):
            raise HfaError(f"{where}: {key!r} needs numbers low and high (got low={low!r}, high={high!r})")
    if low > high:
        raise HfaError(f"{where}: the range of {key!r} is reversed (low={low} > high={high})")
    if low == high:
        raise HfaError(f"{where}: the range of {key!r} is empty (low = high = {low}); set the value instead")
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise HfaError(f"{where}: log of {key!r} must be true or false")
    if log and low <= 0:
        raise HfaError(f"{where}: a log range of {key!r} needs low > 0 (got {low})")
    default = _default(key)
    integer = isinstance(default, int) and not isinstance(default, bool)
    if integer and not (float(low).is_integer() and float(high).is_integer()):
        raise HfaError(f"{where}: {key!r} takes whole numbers; give whole low and high")
    if not integer and not isinstance(default, float):
        raise HfaError(f"{where}: {key!r} is not a number; search it with {{choices: [...]}}")
    cast = int if integer else float
    return Range(key, cast(low), cast(high), log, integer)


def _default(key: str) -> Any:
    node: Any = Config().to_dict()
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _check_configs(plan: Plan) -> None:
    """Every method at every sweep point, at every end of every range, is a valid config, and every range applies.

    A range on a key the method ignores (``loss.gamma`` for bce) would spend the budget on nothing: refused.
    """
    for method, point in itertools.product(plan.methods, plan.points):
        cfg = plan.config(point, method, {}, plan.seeds[0])
        if plan.folds is None and cfg.data.folds is not None:
            plan.folds = cfg.data.folds
        ignored = set(inapplicable_keys(cfg))
        for r in method.ranges:
            if r.key in ignored:
                raise HfaError(
                    f"search range on {r.key!r} does not apply to method {method.name} ({_what(cfg)}); "
                    "give it in that method's own 'search:' block of the methods it applies to"
                )
            if r.key in method.settings:
                raise HfaError(f"method {method.name} sets {r.key!r} and searches it; do one or the other")
            for value in r.extremes():
                plan.config(point, method, {r.key: value}, plan.seeds[0])


def _what(cfg: Config) -> str:
    return f"loss {cfg.loss.name}" if cfg.model.name == "mlp" else f"{cfg.model.name}, loss {cfg.loss.name}"
