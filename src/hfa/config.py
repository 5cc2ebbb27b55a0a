"""The experiment config: a pydantic schema, YAML loading, and dotted ``KEY=VALUE`` overrides.

Everything a run does is decided here; the resolved config is what a run records and what its id hashes.
"""

from __future__ import annotations

import copy
import datetime
import difflib
import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hfa.errors import HfaError, clip, shorten
from hfa.methods import CALIBRATIONS, RESAMPLERS

AUTHORS_THRESHOLDS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
DEVICE_PATTERN = r"^(auto|cpu|mps|cuda(:\d+)?)$"
SEED_LIMIT = 2**32
"""Seeds lie in [0, 2**32): the range numpy's and scikit-learn's ``random_state`` accept."""

# Upper bounds. Each lies far beyond any setting that trains in reasonable time on one machine, and below what
# fails only after minutes of work (an allocation, a file name the file system refuses, an overflow).
MAX_NAME_LENGTH = 100  # a folder name; leaves room for the staging prefix within the usual 255-byte limit
MAX_SAMPLES = 10_000_000  # synthetic rows, and the batch size
MAX_FEATURES = 10_000  # synthetic columns
MAX_SYNTHETIC_CELLS = 100_000_000  # n_samples x n_features: 800 MB of float64 as generated
MAX_WIDTH = 16_384  # one hidden layer
MAX_LAYERS = 64
MAX_PARAMETERS = 100_000_000  # weights of the MLP's hidden layers (400 MB of float32, before Adam's 2x state)
MAX_RATIO = 1e6  # negatives per positive
MAX_SCALE = 1e6  # cluster_std, loss.beta, loss.k, loss.pos_weight
MAX_GAMMA = 100.0  # focal exponent: p**100 already underflows for p < 0.5
MAX_THRESHOLDS = 10_000
MAX_EPOCHS = 1_000_000
MAX_LR = 10.0
MAX_WEIGHT_DECAY = 10.0
MAX_FOLDS = 100  # stratified k-fold: a fold of fewer rows than this many folds has no test row to speak of
MAX_TREES = 10_000  # gbdt boosting iterations: each a tree in model.pt
MAX_LEAVES = 65_536  # gbdt leaves per tree
MAX_DEPTH = 64  # gbdt tree depth: scoring walks one level per step


MAX_YAML_VALUES = 100_000
"""Most values a YAML document may hold once its aliases are expanded (a config holds a few hundred)."""


class YamlRefusedError(yaml.YAMLError):
    """A document hfa refuses to read although it parses: a one-line reason."""


class YamlAliasError(YamlRefusedError):
    """A document whose aliases expand beyond ``MAX_YAML_VALUES`` values, or refer to themselves."""


class YamlDuplicateKeyError(YamlRefusedError):
    """A mapping that names a key twice."""


class YamlLoader(yaml.SafeLoader):
    """The safe loader, reading ``1e-3`` as a float the way YAML 1.2 and every user expects.

    Aliases are bounded: nine chained anchors of nine aliases each are a 1 KB file that expands to 9**9 values,
    which validation and error messages would walk for minutes. The document is measured as a node graph (each
    distinct node once) before anything is built from it.
    """

    def compose_document(self) -> yaml.Node | None:
        node = super().compose_document()
        if node is not None and self.anchors_seen:
            _check_expansion(node)
        return node

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            self.anchors_seen = True
        return super().compose_node(parent, index)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        # A key written twice is a mistake the safe loader hides (the last one wins): refuse it, naming the key.
        # Keys merged in with ``<<: *anchor`` may be overridden by the mapping's own keys, as YAML allows.
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, list | dict):
                continue  # unhashable: the constructor reports it
            if key in seen:
                raise YamlDuplicateKeyError(
                    f"the key {clip(str(key))!r} appears twice in one mapping (line {key_node.start_mark.line + 1}); "
                    "keep one"
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)

    anchors_seen = False


def _check_expansion(root: yaml.Node) -> None:
    """Raise ``YamlAliasError`` when ``root`` expands to more than ``MAX_YAML_VALUES`` values or is recursive."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise YamlAliasError("an alias refers to a value that contains it (a recursive alias)")
        active.add(key)
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        total = 1
        for child in children:
            total += size(child)
            if total > MAX_YAML_VALUES:
                raise YamlAliasError(
                    f"its aliases (*name) expand to more than {MAX_YAML_VALUES:,} values; write the values out "
                    "or use fewer aliases"
                )
        active.discard(key)
        sizes[key] = total
        return total

    size(root)


# Booleans as YAML 1.2 reads them (true/false only): YAML 1.1's yes/no/on/off would store data.positive=Yes as
# true, not as the label the user wrote. Boolean settings still take "yes" (pydantic reads it as True).
YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=YamlLoader)  # noqa: S506  (a SafeLoader subclass)


class _Section(BaseModel):
    # allow_inf_nan=False: .inf and .nan are valid YAML floats but no setting of hfa means anything with them.
    # strict: a value is taken as written, never converted (true is not the number 1, "32" not a width, a tuple
    # not a list); an integer is still a number wherever a float is expected.
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False, strict=True)


class DataConfig(_Section):
    name: str = Field(
        "synthetic",
        description="synthetic | synthetic_33 | synthetic_05 | sklearn/<name> | keel/<name> | path to .csv/.parquet",
    )
    imbalance_ratio: float | None = Field(
        None,
        gt=0,
        le=MAX_RATIO,
        description="negatives kept per positive (subsampled before the split); null = as the data comes",
    )
    val_size: float = Field(0.2, gt=0, lt=1, description="fraction of rows in the validation split")
    test_size: float = Field(0.2, gt=0, lt=1, description="fraction of rows in the test split")
    seed: int | None = Field(
        None,
        ge=0,
        lt=SEED_LIMIT,
        description="seed of the data's samples, subsample and split; null = the run's seed (a number pins the data)",
    )
    folds: int | None = Field(
        None,
        ge=2,
        le=MAX_FOLDS,
        description="stratified k-fold: the test split is fold data.fold of this many (validation carved from the "
        "others); null = one train/val/test split",
    )
    fold: int = Field(0, ge=0, lt=MAX_FOLDS, description="k-fold: which fold is the test split, 0..folds-1")
    n_samples: int = Field(10000, ge=20, le=MAX_SAMPLES, description="synthetic: rows generated before subsampling")
    n_features: int = Field(2, ge=1, le=MAX_FEATURES, description="synthetic: feature columns")
    cluster_std: float = Field(1.0, gt=0, le=MAX_SCALE, description="synthetic: standard deviation of each blob")
    target: str | list[str] | None = Field(
        None, description="files: the label column, or a list of columns (a multi-label run, one output per label)"
    )
    positive: str | int | float | bool | dict[str, str | int | float | bool] | None = Field(
        None, description="the label value that is the positive class; multi-label: one for all, or column -> value"
    )
    features: list[str] | None = Field(
        None, description="files: the feature columns to use; null = every column but targets, id and drop"
    )
    drop: list[str] = Field(default_factory=list, description="files: columns left out of the features")
    id: str | None = Field(None, description="files: a row identifier, never a feature; hfa predict carries it through")
    resample: Literal[tuple(RESAMPLERS)] = Field(  # type: ignore[valid-type]
        "none",
        description="the training split resampled (imbalanced-learn), never validation or test: "
        + " | ".join(RESAMPLERS),
    )

    @model_validator(mode="after")
    def _columns_agree(self) -> DataConfig:
        targets = [self.target] if isinstance(self.target, str) else list(self.target or [])
        chosen = self.features or []
        for key, names in (("data.features", chosen), ("data.drop", self.drop)):
            if len(set(names)) != len(names):
                raise ValueError(f"{key} lists a column twice (got {shorten(names)})")
        if self.features is not None and not chosen:
            raise ValueError("data.features is empty; name at least one column, or null for every column")
        clashes = [
            (f"column {c!r} is both in data.features and in data.drop", "select it or drop it, not both")
            for c in chosen
            if c in self.drop
        ]
        clashes += [
            (f"target column {t!r} is in {key}", "a target is never a feature")
            for key, names in (("data.features", chosen), ("data.drop", self.drop))
            for t in targets
            if t in names
        ]
        if self.id is not None:
            if self.id in targets:
                clashes.append((f"data.id={self.id!r} is a target column", "name the row identifier column"))
            if self.id in chosen:
                clashes.append((f"data.id={self.id!r} is in data.features", "the id is never a feature"))
        if clashes:
            what, allowed = clashes[0]
            raise ValueError(f"{what}; {allowed}")
        return self

    @field_validator("target")
    @classmethod
    def _two_or_more_targets(cls, target: str | list[str] | None) -> str | list[str] | None:
        if isinstance(target, list):
            if len(target) < 2:
                raise ValueError(
                    f"a list of targets makes a multi-label run and needs two or more columns (got {target}); "
                    "name a single label column as a string"
                )
            if len(set(target)) != len(target):
                raise ValueError(f"every target column must be listed once (got {target})")
        return target

    @model_validator(mode="after")
    def _resample_one_label(self) -> DataConfig:
        if self.resample != "none" and self.multilabel:
            raise ValueError(
                f"data.resample={self.resample} resamples single-label data; a multi-label run's positives of one "
                "label are another's negatives: use resample none"
            )
        return self

    @property
    def multilabel(self) -> bool:
        """Whether this data has several binary labels: a list of targets or a multi-label named data set."""
        from hfa.data.sources import MULTILABEL_PREFIXES

        return isinstance(self.target, list) or self.name.strip().lower().startswith(MULTILABEL_PREFIXES)

    @field_validator("positive", mode="before")
    @classmethod
    def _positive_label(cls, value: Any) -> Any:
        # YAML reads an unquoted 2024-01-01 as a date; a label column stores it as that text.
        if isinstance(value, datetime.date):
            return value.isoformat()
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"the positive label must be a finite number, a string or a boolean (got {value})")
        return value

    @model_validator(mode="after")
    def _synthetic_fits_in_memory(self) -> DataConfig:
        cells = self.n_samples * self.n_features
        if self.name.strip().lower().startswith("synthetic") and cells > MAX_SYNTHETIC_CELLS:
            raise ValueError(f"n_samples x n_features = {cells:,} synthetic values; at most {MAX_SYNTHETIC_CELLS:,}")
        return self

    @property
    def drawn_seed(self) -> int:
        """The seed the data is drawn with; ``None`` outside a run (which resolves it, see ``Config.resolved_data``)
        is seed 0, the default run seed."""
        return 0 if self.seed is None else self.seed

    @model_validator(mode="after")
    def _splits_leave_training_rows(self) -> DataConfig:
        if self.folds is not None:
            if self.fold >= self.folds:
                raise ValueError(f"fold must lie in 0..{self.folds - 1} for folds={self.folds} (got {self.fold})")
            # val_size stays a fraction of all rows: carved from the k - 1 training folds.
            if self.val_size >= 1 - 1 / self.folds:
                raise ValueError(
                    f"val_size must be below 1 - 1/folds = {1 - 1 / self.folds:g} (got {self.val_size}), "
                    "so the training folds keep rows to train on"
                )
            return self
        if self.val_size + self.test_size >= 1:
            raise ValueError(
                f"val_size + test_size must be below 1 (got {self.val_size} + {self.test_size}), "
                "so rows are left to train on"
            )
        return self


MODELS = ("mlp", "logistic", "gbdt")
BASELINE_LOSSES = ("bce", "wbce")
"""The losses logistic and gbdt take: their own log loss, unweighted (bce) or positives weighted by pos_weight."""


class ModelConfig(_Section):
    name: Literal["mlp", "logistic", "gbdt"] = Field(
        "mlp",
        description="mlp (trained on the loss) | logistic (scikit-learn's LogisticRegression) | gbdt "
        "(HistGradientBoostingClassifier); logistic and gbdt take loss bce or wbce (class weights)",
    )
    hidden: list[int] = Field(
        [64, 64], max_length=MAX_LAYERS, description="mlp: widths of the hidden layers; [] is a linear model"
    )
    dropout: float = Field(0.0, ge=0, lt=1, description="mlp: dropout after each hidden layer")
    activation: Literal["relu", "gelu", "tanh", "silu"] = Field("relu", description="mlp: hidden activation")
    C: float = Field(1.0, gt=0, le=MAX_SCALE, description="logistic: inverse strength of the L2 penalty")
    learning_rate: float = Field(0.1, gt=0, le=MAX_LR, description="gbdt: shrinkage of each tree")
    max_iter: int = Field(
        100, ge=1, le=MAX_TREES, description="gbdt: most boosting iterations (trees); fewer when train.patience stops"
    )
    max_leaf_nodes: int = Field(31, ge=2, le=MAX_LEAVES, description="gbdt: most leaves per tree")
    max_depth: int | None = Field(None, ge=1, le=MAX_DEPTH, description="gbdt: most depth per tree; null = no limit")
    min_samples_leaf: int = Field(20, ge=1, le=MAX_SAMPLES, description="gbdt: fewest training rows in a leaf")
    l2_regularization: float = Field(0.0, ge=0, le=MAX_SCALE, description="gbdt: L2 penalty on leaf values")

    @field_validator("hidden")
    @classmethod
    def _positive_widths(cls, widths: list[int]) -> list[int]:
        if any(not 1 <= w <= MAX_WIDTH for w in widths):
            raise ValueError(f"every hidden width must lie in [1, {MAX_WIDTH}] (got {shorten(widths)})")
        check_weights(0, widths)
        return widths


def check_weights(in_features: int, widths: Sequence[int]) -> None:
    """Raise ``ValueError`` when an MLP with ``in_features`` inputs and these hidden widths holds more than
    ``MAX_PARAMETERS`` weights (the input layer counts: 10,000 features into 16,384 units are 164M)."""
    layers = [in_features, *widths] if in_features else list(widths)
    weights = sum(a * b for a, b in zip(layers, layers[1:], strict=False))
    if weights > MAX_PARAMETERS:
        inputs = f"{in_features:,} inputs into " if in_features else ""
        raise ValueError(
            f"an MLP of {inputs}hidden widths {shorten(list(widths))} holds {weights:,} weights; at most "
            f"{MAX_PARAMETERS:,}: give smaller model.hidden"
        )


class LossConfig(_Section):
    name: str = Field("bce", description="see `hfa losses`")
    beta: float = Field(1.0, gt=0, le=MAX_SCALE, description="fbeta: weight of recall relative to precision")
    pos_weight: float | Literal["auto"] | list[float] = Field(
        "auto", description="wbce: weight of positives; auto = #neg/#pos; multi-label: a list, one per label"
    )
    thresholds: list[float] = Field(
        default_factory=lambda: list(AUTHORS_THRESHOLDS),
        max_length=MAX_THRESHOLDS,
        description="metric losses: thresholds tau averaged over",
    )
    delta: float = Field(0.1, gt=0, lt=0.5, description="metric losses: slope parameter of the Heaviside approximation")
    approx: Literal["heaviside", "sigmoid"] = Field("heaviside", description="metric losses: step approximation")
    k: float = Field(10.0, gt=0, le=MAX_SCALE, description="metric losses with approx=sigmoid: slope of the sigmoid")
    alpha: float = Field(0.25, ge=0, le=1, description="focal: weight of positives")
    gamma: float = Field(2.0, ge=0, le=MAX_GAMMA, description="focal: focusing exponent")
    average: Literal["macro", "micro"] = Field(
        "macro",
        description="multi-label metric losses: macro = mean over labels of each label's soft metric, "
        "micro = soft counts summed over labels",
    )

    @field_validator("name")
    @classmethod
    def _known_loss(cls, name: str) -> str:
        from hfa.loss_catalog import CATALOG  # the names alone: validating a config needs no torch

        if name not in CATALOG:
            # Matched without case, so F1 and WBCE find their names; difflib alone would miss a two-letter name.
            lowered = {known.lower(): known for known in CATALOG}
            close = lowered.get(name.lower()) or next(
                iter(difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)), None
            )
            hint = f" (did you mean {lowered.get(close, close)!r}?)" if close else ""
            raise ValueError(f"unknown loss {clip(name)!r}{hint}; allowed: {', '.join(CATALOG)}")
        return name

    @field_validator("pos_weight")
    @classmethod
    def _positive_weight(cls, value: float | str | list[float]) -> float | str | list[float]:
        if isinstance(value, list):
            if not value or any(not 0 < w <= MAX_SCALE for w in value):
                raise ValueError(
                    f"pos_weight as a list needs one number in (0, {MAX_SCALE:g}] per label (got {shorten(value)})"
                )
        elif value != "auto" and not 0 < value <= MAX_SCALE:
            raise ValueError(f"pos_weight must be 'auto' or a number in (0, {MAX_SCALE:g}] (got {value})")
        return value

    @field_validator("thresholds")
    @classmethod
    def _thresholds_in_unit_interval(cls, values: list[float]) -> list[float]:
        if not values:
            raise ValueError("thresholds must hold at least one value in (0, 1)")
        if any(not 0 < t < 1 for t in values):
            raise ValueError(f"every threshold must lie in (0, 1) (got {shorten(values)})")
        return values


class TrainConfig(_Section):
    epochs: int = Field(100, ge=1, le=MAX_EPOCHS, description="maximum number of passes over the training split")
    batch_size: int = Field(256, ge=1, le=MAX_SAMPLES)
    lr: float = Field(1e-3, gt=0, le=MAX_LR, description="Adam learning rate")
    weight_decay: float = Field(0.0, ge=0, le=MAX_WEIGHT_DECAY)
    patience: int = Field(
        10, ge=0, le=MAX_EPOCHS, description="epochs without a better validation loss before stopping; 0 = never"
    )
    device: str = Field("auto", pattern=DEVICE_PATTERN, description="auto | cpu | cuda | cuda:N | mps")
    amp: bool = Field(False, description="mixed precision (bf16) on CUDA")
    compile: bool = Field(False, description="torch.compile the model on CUDA")
    stack: bool = Field(True, description="sweep: train runs sharing data and model shape together as one stack")


def _readable_beta(beta: float) -> float:
    # The rule is named tuned_f<beta> (``f"{beta:g}"``); a beta whose name would not read back as itself
    # (1e-05, 123456.7) is refused.
    name = f"{beta:g}"
    if "e" in name or float(name) != beta:
        raise ValueError(f"{beta!r} is not a beta its rule name can hold; use a plain number with at most 6 digits")
    return beta


class EvalConfig(_Section):
    threshold: float = Field(0.5, gt=0, lt=1, description="the fixed decision threshold")
    tune_metric: Literal["f1", "fbeta", "mcc", "balanced_accuracy", "accuracy"] = Field(
        "f1", description="metric the tuned threshold maximises on validation"
    )
    tune_betas: list[Annotated[float, Field(gt=0, le=MAX_SCALE), AfterValidator(_readable_beta)]] = Field(
        default_factory=list,
        max_length=16,
        description="more tuned rules: for each beta, rule tuned_f<beta> at the threshold maximising F-beta on "
        "validation (the honest BCE baseline for an F-beta loss)",
    )
    calibrate: Literal[tuple(CALIBRATIONS)] = Field(  # type: ignore[valid-type]
        "none", description="a map from scores to probabilities fitted on validation: " + " | ".join(CALIBRATIONS)
    )

    @field_validator("tune_betas")
    @classmethod
    def _each_beta_once(cls, betas: list[float]) -> list[float]:
        # [2, 2] tunes the rule tuned_f2 once: the same run as [2], with the same id.
        return list(dict.fromkeys(betas))


class TrackingConfig(_Section):
    mlflow: str | None = Field(
        None, description="MLflow tracking URI to log runs to, e.g. sqlite:///mlflow.db (pip install 'hfa[mlflow]')"
    )


class Config(_Section):
    name: str = Field(
        "hfa",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        max_length=MAX_NAME_LENGTH,
        description="experiment name (a folder)",
    )
    seed: int = Field(
        0,
        ge=0,
        lt=SEED_LIMIT,
        description="seed of everything random: the data (unless data.seed pins it), weights, batches, dropout",
    )
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    loss: LossConfig = Field(default_factory=LossConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    sweep: dict[str, list[Any]] = Field(default_factory=dict, description="dotted key -> values; one run each")

    @model_validator(mode="after")
    def _calibrate_one_label(self) -> Config:
        if self.eval.calibrate != "none" and self.data.multilabel:
            raise ValueError(
                f"eval.calibrate={self.eval.calibrate} calibrates single-label runs; this data has several labels: "
                "use calibrate none"
            )
        return self

    @model_validator(mode="after")
    def _input_layer_bounded(self) -> Config:
        # Synthetic data knows its width now; a table's is checked when the model is built (hfa.model.build_model).
        if self.model.name == "mlp" and self.data.name == "synthetic" and self.model.hidden:
            check_weights(self.data.n_features, self.model.hidden)
        return self

    @property
    def progress_epochs(self) -> int:
        """The steps of progress a run reports: the MLP's epochs at most; a baseline's fit is one step."""
        return self.train.epochs if self.model.name == "mlp" else 1

    @property
    def data_seed(self) -> int:
        """The seed the data is drawn with: ``data.seed``, or the run's ``seed`` where that is null."""
        return self.seed if self.data.seed is None else self.data.seed

    def resolved_data(self) -> DataConfig:
        """``data`` with its seed resolved: what ``prepare_data`` is given."""
        return self.data.model_copy(update={"seed": self.data_seed})

    @model_validator(mode="after")
    def _model_takes_loss(self) -> Config:
        # The baselines fit their own log loss; bce/wbce only say how positives are weighted.
        name = self.model.name
        if name != "mlp":
            if self.loss.name not in BASELINE_LOSSES:
                raise ValueError(
                    f"model.name={name} takes loss bce (unweighted) or wbce (positives weighted by loss.pos_weight), "
                    f"not {self.loss.name!r}; metric losses train model.name=mlp"
                )
            if self.data.multilabel:
                raise ValueError(f"model.name={name} scores one label; a multi-label run needs model.name=mlp")
        return self

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


# --------------------------------------------------------------------------------------------------------------
# Reading, overriding and validating


def config_keys(model: type[BaseModel] = Config, prefix: str = "") -> list[str]:
    """Every dotted key the schema accepts, leaves and sections alike (``data``, ``data.name``, ...)."""
    keys: list[str] = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        keys.append(key)
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys.extend(config_keys(annotation, prefix=f"{key}."))
    return keys


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a config file with the safe loader; every way it can be wrong is a one-line ``HfaError``."""
    path = Path(path)
    if not path.is_file():
        from hfa.io import missing_file

        raise HfaError(
            f"config file {path} {missing_file(path)}; pass a YAML file, e.g. --config configs/quickstart.yaml"
        )
    try:
        raw = load_yaml(path.read_text(encoding="utf-8"))
    except yaml.constructor.ConstructorError as exc:
        tag = getattr(exc, "problem", "") or "a tag"
        raise HfaError(
            f"config file {path} uses {tag.strip()}, which hfa refuses to load; use plain YAML values only"
        ) from None
    except YamlRefusedError as exc:
        raise HfaError(f"config file {path} is refused: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise HfaError(f"config file {path} is not valid YAML{where}: {problem}") from None
    except UnicodeDecodeError:
        raise HfaError(f"config file {path} is not UTF-8 text") from None
    if raw is None:
        raise HfaError(f"config file {path} is empty; it must hold a mapping such as 'loss: {{name: f1}}'")
    if not isinstance(raw, dict):
        raise HfaError(f"config file {path} must hold a mapping of keys, not a {type(raw).__name__}")
    return raw


def parse_override(item: str) -> tuple[str, Any]:
    """``'train.epochs=5'`` -> ``('train.epochs', 5)``; the value is read as a YAML scalar or list."""
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep:
        raise HfaError(f"override {clip(item)!r} has no '='; write KEY=VALUE, e.g. train.epochs=5")
    if not key:
        raise HfaError(f"override {clip(item)!r} has no key before '='; write KEY=VALUE, e.g. loss.name=f1")
    try:
        value = load_yaml(text) if text.strip() else None
    except YamlRefusedError as exc:
        raise HfaError(f"override {clip(item)!r}: {exc}") from None
    except yaml.YAMLError:
        raise HfaError(f"override {clip(item)!r}: the value is not a valid YAML scalar or list") from None
    return key, value


def set_dotted(raw: dict[str, Any], key: str, value: Any) -> None:
    """Set ``raw[a][b][c] = value`` for ``key='a.b.c'``; a mapping value is merged into a mapping section."""
    parts = key.split(".")
    node = raw
    for depth, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise HfaError(f"key {key!r}: {'.'.join(parts[: depth + 1])!r} is a value, not a section")
        node = child
    leaf = parts[-1]
    if isinstance(value, Mapping) and isinstance(node.get(leaf), dict):
        for sub_key, sub_value in value.items():
            set_dotted(node[leaf], str(sub_key), sub_value)
    else:
        node[leaf] = copy.deepcopy(value)


def keys_overlap(a: str, b: str) -> bool:
    """Whether two dotted keys set the same setting: equal, or one a section holding the other (train, train.lr)."""
    return a == b or a.startswith(f"{b}.") or b.startswith(f"{a}.")


def check_key(key: str, source: str) -> None:
    """Raise an ``HfaError`` suggesting the nearest valid key when ``key`` is not in the schema."""
    allowed = config_keys()
    if key not in allowed:
        raise HfaError(f"unknown key {clip(key)!r} in {source}{_suggest(key, allowed)}")


def _suggest(key: str, allowed: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        return f"; did you mean {close[0]!r}?"
    section, _, _ = key.rpartition(".")
    siblings = [k.rpartition(".")[2] for k in allowed if k.rpartition(".")[0] == section]
    where = f" under {section!r}" if section else ""
    return f"; allowed{where}: {', '.join(siblings)}" if siblings else ""


def _error_line(exc: ValidationError, source: str) -> str:
    error = exc.errors()[0]
    loc = error["loc"] if error["type"] == "extra_forbidden" else _schema_loc(error["loc"])
    key = ".".join(str(part) for part in loc)
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    if error["type"] == "extra_forbidden":
        return f"unknown key {key!r} in {source}{_suggest(key, config_keys())}{more}"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "literal_error":
        message = message.replace("Input should be", "allowed:")
    value = error.get("input")
    shown = "" if isinstance(value, dict) else f" {shorten(value)}"
    if key:
        return f"invalid value{shown} for {key!r} in {source}: {message}{more}"
    return f"invalid config in {source}: {message}{more}"


def _schema_loc(loc: Sequence[Any]) -> list[Any]:
    """An error location without pydantic's union-member tags: ``loss.pos_weight.float`` -> ``loss.pos_weight``."""
    keys = set(config_keys())
    kept: list[Any] = []
    for part in loc:
        if isinstance(part, str) and kept and ".".join(map(str, [*kept, part])) not in keys:
            break
        kept.append(part)
    return kept


def validate(raw: Mapping[str, Any], source: str = "config") -> Config:
    """Build a ``Config`` from a nested mapping; the first problem becomes a one-line ``HfaError``."""
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise HfaError(_error_line(exc, source)) from None


def resolve(
    path: str | Path | Mapping[str, Any] | None = None,
    overrides: Iterable[str] = (),
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The raw nested mapping of a config file (or the defaults, or a file's content given as a mapping) with
    overrides applied, not yet validated."""
    if isinstance(path, Mapping):
        raw: dict[str, Any] = copy.deepcopy(dict(path))  # the caller's mapping is left as it was
    else:
        raw = read_yaml(path) if path is not None else {}
    given: dict[str, Any] = {}
    for key, value in [*(extra or {}).items(), *(parse_override(item) for item in overrides)]:
        check_key(key, "overrides")
        # As a duplicate key in a YAML file: which one was meant is not for hfa to guess (train={lr: 1}, train.lr=2).
        twice = next((k for k in given if keys_overlap(k, key)), None)
        if twice is not None:
            same = "is given twice" if twice == key else f"and {twice!r} set the same setting"
            raise HfaError(f"override {key!r} {same} ({shorten(given[twice])} and {shorten(value)}); give it once")
        given[key] = value
        set_dotted(raw, key, value)
    return raw


def source_name(config: str | Path | Mapping[str, Any] | None) -> str:
    """How a message names where a config came from: its file, the API's mapping or the defaults."""
    if config is None:
        return "the default config"
    return "the config mapping" if isinstance(config, Mapping) else str(config)


def load_config(path: str | Path | None = None, overrides: Iterable[str] = ()) -> Config:
    """Read ``path`` (or start from the built-in defaults), apply ``KEY=VALUE`` overrides, validate."""
    overrides = list(overrides)
    source = str(path) if path is not None else "the default config"
    if overrides:
        source += " with overrides"
    return validate(resolve(path, overrides), source)


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{'a': {'b': 1}}`` -> ``{'a.b': 1}``; lists stay values."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


# Settings that change how fast a run goes, not what it computes: they stay out of the run id.
_NOT_IN_RUN_ID = ("train.stack",)
_SOURCE_KEYS = {
    "synthetic": ("n_samples", "n_features", "cluster_std"),
    "file": ("target", "features", "drop", "id"),
}
_ALL_SOURCE_KEYS = ("n_samples", "n_features", "cluster_std", "target", "features", "drop", "id")
# Keys added after runs were shipped stay out of a run's resolved config while they hold their defaults, so the
# ids of runs made before these keys existed stay as they were: column choices, resampling, calibration.
_UNSET_KEYS = {
    "data.features": None,
    "data.drop": [],
    "data.id": None,
    "data.resample": "none",
    "eval.calibrate": "none",
}


# The keys each model reads; a key of another model does not apply to it. gbdt stops early on the run's own
# validation split after train.patience iterations without a better validation loss, as the MLP does.
_MODEL_KEYS = {
    "mlp": (
        "model.hidden",
        "model.dropout",
        "model.activation",
        "train.epochs",
        "train.batch_size",
        "train.lr",
        "train.weight_decay",
        "train.patience",
        "train.device",
        "train.amp",
        "train.compile",
    ),
    "logistic": ("model.C",),
    "gbdt": (
        "model.learning_rate",
        "model.max_iter",
        "model.max_leaf_nodes",
        "model.max_depth",
        "model.min_samples_leaf",
        "model.l2_regularization",
        "train.patience",
    ),
}


def inapplicable_keys(cfg: Config) -> list[str]:
    """The dotted keys that do not change what this run computes (``loss.beta`` for bce, ``data.n_samples`` for a
    KEEL set, ``loss.k`` with the Heaviside step, ``model.hidden`` for gbdt, ...): they stay out of its resolved
    config and its run id."""
    from hfa.data.sources import parse_name
    from hfa.losses import LOSSES, PARAMETERS

    used_by_model = set(_MODEL_KEYS[cfg.model.name])
    dropped = [key for keys in _MODEL_KEYS.values() for key in keys if key not in used_by_model]
    used = set(LOSSES[cfg.loss.name].params)
    if "approx" in used:
        used.discard("k" if cfg.loss.approx == "heaviside" else "delta")
    dropped += [f"loss.{key}" for key in PARAMETERS if key not in used]
    if not (cfg.data.multilabel and "thresholds" in used):
        dropped.append("loss.average")  # only metric losses on several labels average over them
    # One split: no fold; k-fold: the test split is one fold, whatever test_size says.
    dropped += ["data.folds", "data.fold"] if cfg.data.folds is None else ["data.test_size"]
    kept_source = _SOURCE_KEYS.get(parse_name(cfg.data.name)[0], ())
    dropped += [f"data.{key}" for key in _ALL_SOURCE_KEYS if key not in kept_source]
    return list(dict.fromkeys(dropped))


def canonical(cfg: Config) -> dict[str, Any]:
    """The resolved config of one run: ``data.seed`` resolved, the sweep grid, ``tracking`` and inapplicable keys
    left out.

    Two configs with equal canonical forms compute the same run; reading this back gives the same form again.
    """
    resolved = cfg.to_dict()
    resolved.pop("sweep", None)
    resolved.pop("tracking", None)  # where a run is logged to is not what it computes
    resolved["data"]["seed"] = cfg.data_seed
    for key in inapplicable_keys(cfg):
        section, _, leaf = key.partition(".")
        resolved[section].pop(leaf, None)
    for key, unset in _UNSET_KEYS.items():
        section, _, leaf = key.partition(".")
        if resolved[section].get(leaf, unset) == unset:
            resolved[section].pop(leaf, None)
    return resolved


def run_id(cfg: Config) -> str:
    """A stable, readable folder name for a run: equal canonical configs map to the same id, others never."""
    from hfa.losses import loss_label

    flat = {k: v for k, v in flatten(canonical(cfg)).items() if not k.startswith(_NOT_IN_RUN_ID)}
    if flat["model.name"] == "mlp":
        del flat["model.name"]  # the default: MLP runs keep the ids they had before model.name existed
    digest = hashlib.sha256(json.dumps(flat, sort_keys=True, default=str).encode()).hexdigest()[:8]
    label = loss_label(cfg.loss.name, cfg.loss.model_dump())
    if cfg.model.name != "mlp":
        label = f"{cfg.model.name} {label}"
    label = re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-")
    ratio = cfg.data.imbalance_ratio
    ratio_part = "natural" if ratio is None else f"{ratio:g}"
    return f"{label}_ir{ratio_part}_s{cfg.seed}_{digest}"
