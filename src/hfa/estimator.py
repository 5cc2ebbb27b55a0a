"""``HfaClassifier``: scikit-learn's classifier API over hfa's one trainer and loss registry.

The constructor's arguments are the config keys of a run (loss, its parameters, model and training settings),
validated by the same schema when ``fit`` is called; ``fit`` trains through ``hfa.training.fit`` with the loss
``hfa.losses.build_loss`` makes, exactly as ``hfa train`` does, with a stratified validation split cut from the
rows it is given for early stopping. Works in ``Pipeline``, ``cross_val_score``, ``GridSearchCV`` and
``TunedThresholdClassifierCV`` (which tunes the threshold on ``predict_proba``).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, check_random_state

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data
except ImportError:  # pragma: no cover - older scikit-learn
    validate_data = None

from hfa.config import AUTHORS_THRESHOLDS, SEED_LIMIT, Config, validate
from hfa.data.checks import check_magnitudes
from hfa.errors import HfaError, shorten
from hfa.plain import plain, scalar

# The parameters that are config keys of a section under the same name (loss.name and model.name are set apart).
_LOSS_KEYS = ("beta", "pos_weight", "thresholds", "delta", "approx", "k", "alpha", "gamma", "average")
_MODEL_KEYS = ("hidden", "dropout", "activation", "C", "learning_rate", "max_iter", "max_leaf_nodes", "max_depth")
_MODEL_KEYS += ("min_samples_leaf", "l2_regularization")
_TRAIN_KEYS = ("epochs", "batch_size", "lr", "weight_decay", "patience", "device")


def _check_threshold(value: Any) -> None:
    """``threshold``: ``"tuned"`` or a number the config takes as ``eval.threshold``; anything else is refused with
    what is allowed (the config alone would say "Input should be a valid number" of ``"Tuned"``)."""
    if value == "tuned":
        return
    try:
        validate({"eval": {"threshold": value}}, "HfaClassifier parameters")
    except HfaError:
        raise HfaError(
            f"invalid value {shorten(value)} for 'threshold' in HfaClassifier parameters: give 'tuned' (chosen on the "
            "validation split) or a number in (0, 1)"
        ) from None


class HfaClassifier(ClassifierMixin, BaseEstimator):
    """A binary classifier trained as an hfa run: an MLP on any hfa loss, or a baseline (logistic regression,
    gradient-boosted trees) with class weights.

    Parameters mirror the config: ``loss`` is ``loss.name`` (``bce``, ``wbce``, ``f1``, ``fbeta``, ``auroc``, ...,
    see ``hfa losses``) and ``beta``, ``pos_weight``, ``thresholds``, ``delta``, ``approx``, ``k``, ``alpha``,
    ``gamma`` its parameters; ``hidden``, ``dropout``, ``activation`` the model; ``epochs``, ``batch_size``,
    ``lr``, ``weight_decay``, ``patience``, ``device`` the training; ``val_size`` the share of ``fit``'s rows
    held out for early stopping; ``standardize`` centres and scales features with the training rows' mean and
    standard deviation; ``threshold`` is the decision threshold of ``predict``: a number, or ``"tuned"`` for the
    threshold that maximises ``tune_metric`` (``f1``, ``fbeta`` at ``beta``, ``mcc``, ``balanced_accuracy``,
    ``accuracy``) on the internal validation split, chosen as ``hfa train`` chooses its ``tuned`` rule (one per label
    for multi-label ``y``); ``threshold_`` holds the threshold ``predict`` uses and ``val_positives_`` the validation
    positives it rests on (a ``UserWarning`` when fewer than 20). ``random_state`` seeds the split, the initial
    weights and the batch order (an int gives the same model every time).

    ``model`` is ``model.name``: ``mlp`` (the default), ``logistic`` (scikit-learn's ``LogisticRegression``, with
    ``C``) or ``gbdt`` (``HistGradientBoostingClassifier``, with ``learning_rate``, ``max_iter``, ``max_leaf_nodes``,
    ``max_depth``, ``min_samples_leaf``, ``l2_regularization``, stopping early on the validation split after
    ``patience`` trees); the baselines take loss ``bce`` or ``wbce`` (positives weighted by ``pos_weight``) and a
    binary ``y``. ``calibrate`` (``none``, ``platt``, ``isotonic``) fits a map from scores to probabilities on the
    validation split, as ``eval.calibrate`` does for a run: ``predict_proba`` then gives the map's probabilities
    (``calibration_`` holds it) and ``threshold="tuned"`` is tuned on them.

    ``classes_[1]`` is the positive class: the larger label, as scikit-learn orders them.

    Multi-label: a 2-D ``y`` of 0/1 indicators (one column per label, as ``MLPClassifier`` takes it) trains one output
    per label with the loss applied per label (``average``: ``macro`` or ``micro`` for metric losses; ``pos_weight``
    ``auto`` per label, or a list); ``classes_`` is then ``arange(n_labels)``, ``predict_proba`` gives one column per
    label and ``predict`` an indicator matrix.
    """

    def __init__(
        self,
        loss: str = "bce",
        *,
        beta: float = 1.0,
        pos_weight: float | str = "auto",
        thresholds: Sequence[float] | None = None,
        delta: float = 0.1,
        approx: str = "heaviside",
        k: float = 10.0,
        alpha: float = 0.25,
        gamma: float = 2.0,
        average: str = "macro",
        hidden: Sequence[int] = (64, 64),
        dropout: float = 0.0,
        activation: str = "relu",
        model: str = "mlp",
        C: float = 1.0,  # noqa: N803 - scikit-learn's name for it
        learning_rate: float = 0.1,
        max_iter: int = 100,
        max_leaf_nodes: int = 31,
        max_depth: int | None = None,
        min_samples_leaf: int = 20,
        l2_regularization: float = 0.0,
        epochs: int = 100,
        batch_size: int = 256,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        patience: int = 10,
        val_size: float = 0.2,
        standardize: bool = True,
        threshold: float | str = 0.5,
        tune_metric: str = "f1",
        calibrate: str = "none",
        device: str = "cpu",
        random_state: int | None = 0,
    ):
        self.loss = loss
        self.beta = beta
        self.pos_weight = pos_weight
        self.thresholds = thresholds
        self.delta = delta
        self.approx = approx
        self.k = k
        self.alpha = alpha
        self.gamma = gamma
        self.average = average
        self.hidden = hidden
        self.dropout = dropout
        self.activation = activation
        self.model = model
        self.C = C
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.max_leaf_nodes = max_leaf_nodes
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.patience = patience
        self.val_size = val_size
        self.standardize = standardize
        self.threshold = threshold
        self.tune_metric = tune_metric
        self.calibrate = calibrate
        self.device = device
        self.random_state = random_state

    def _settings(self) -> dict[str, Any]:
        """The parameters as ``fit`` reads them: the one normalisation at the estimator's boundary. A NumPy scalar
        or 0-d array is the Python value it holds (``np.logspace`` grids, ``np.bool_`` flags), a tuple or array the
        list it stands for; nothing else is converted, so the config's validation judges the values themselves.
        The attributes stay as given (scikit-learn's ``get_params``/``clone`` contract)."""
        return plain(self.get_params(deep=False), "HfaClassifier parameters")

    def _config(self, seed: int, p: dict[str, Any] | None = None) -> Config:
        """The parameters (``p``: ``_settings()``) as a validated hfa config, checked exactly as a config file's
        values are: ``hidden='32'``, ``(3.7,)`` and ``(True,)`` are refused, not read as widths."""
        p = self._settings() if p is None else p
        for name, value, allowed in (("standardize", p["standardize"], bool), ("val_size", p["val_size"], int | float)):
            if not isinstance(value, allowed) or (name == "val_size" and isinstance(value, bool)):
                kind = "true or false" if name == "standardize" else "a number in (0, 1)"
                raise HfaError(f"invalid value {shorten(value)} for {name!r} in HfaClassifier parameters: give {kind}")
        _check_threshold(p["threshold"])
        raw = {
            "seed": seed,
            "loss": {key: p[key] for key in _LOSS_KEYS} | {"name": p["loss"]},
            "model": {key: p[key] for key in _MODEL_KEYS} | {"name": p["model"]},
            "train": {key: p[key] for key in _TRAIN_KEYS},
            "eval": {
                "threshold": 0.5 if p["threshold"] == "tuned" else p["threshold"],
                "tune_metric": p["tune_metric"],
                "calibrate": p["calibrate"],
            },
        }
        if p["thresholds"] is None:
            raw["loss"]["thresholds"] = list(AUTHORS_THRESHOLDS)
        return validate(raw, "HfaClassifier parameters")

    def _validate(self, X: Any, y: Any = "no_validation", reset: bool = True, multi_output: bool = False) -> Any:
        kwargs: dict[str, Any] = {"y": y, "dtype": [np.float64, np.float32], "reset": reset}
        if multi_output:
            kwargs["multi_output"] = True
        checked = validate_data(self, X, **kwargs) if validate_data is not None else self._validate_data(X, **kwargs)
        x = checked[0] if isinstance(checked, tuple) else checked
        # The values hfa train accepts, checked by the same function (finite, |x| <= 1e30): beyond, standardising
        # overflows and the model scores NaN.
        names = getattr(self, "feature_names_in_", None)
        check_magnitudes(x, "X", [str(n) for n in names] if names is not None else range(x.shape[1]), rows="row")
        return checked

    def fit(self, X: Any, y: Any) -> HfaClassifier:
        """Train on ``X`` (n_samples, n_features) and binary labels ``y``; returns ``self``."""
        import torch

        from hfa.model import build_model
        from hfa.runs import build_run_loss
        from hfa.training import Streams, fit

        p = self._settings()
        X, y = self._validate(X, y, multi_output=True)
        if not self._takes_multilabel(p) and y.ndim == 2 and y.shape[1] == 1:
            from sklearn.utils import column_or_1d

            y = column_or_1d(y, warn=True)  # a column of labels: one label, as a binary-only classifier reads it
        kind = type_of_target(y, input_name="y")
        if kind == "unknown":
            raise ValueError(f"Unknown label type: y of dtype {y.dtype}; HfaClassifier needs class labels")
        self.multilabel_ = kind == "multilabel-indicator"
        if self.multilabel_:
            self.classes_ = np.arange(y.shape[1])
            target = np.asarray(y, dtype=np.float32)
            # A label of one class has nothing to learn and no threshold to tune (a split-based run refuses it too).
            single = [int(j) for j in np.flatnonzero(target.min(axis=0) == target.max(axis=0))]
            if single:
                raise ValueError(
                    f"y's label column {single[0]} holds one class only ({int(target[0, single[0]])} in every row); "
                    "every label of a multi-label y needs positives and negatives"
                )
        else:
            classes = np.unique(y)
            if kind not in ("binary", "multiclass") or len(classes) != 2:
                n = len(classes)
                raise ValueError(
                    f"Only binary classification is supported (or a 2-D multi-label indicator y); y holds {n} "
                    f"class{'es' * (n != 1)} ({kind})"
                )
            self.classes_ = classes
            target = (np.ravel(y) == self.classes_[1]).astype(np.float32)
        state = p["random_state"]
        if isinstance(state, bool) or not (state is None or isinstance(state, int | np.random.RandomState)):
            raise HfaError(f"invalid value {shorten(state)} for 'random_state': give an int, None or a RandomState")
        seed = state if isinstance(state, int) else int(check_random_state(state).randint(SEED_LIMIT))
        cfg = self._config(seed, p)
        train_rows, val_rows = self._holdout(target, seed, p["val_size"])
        self._check_fit(cfg, target[val_rows])
        x = np.asarray(X, dtype=np.float64)
        if p["standardize"]:
            self.mean_ = x[train_rows].mean(axis=0)
            scale = x[train_rows].std(axis=0)
            self.scale_ = np.where(scale > 0, scale, 1.0)
        else:
            self.mean_, self.scale_ = np.zeros(x.shape[1]), np.ones(x.shape[1])

        from hfa.devices import resolve_device

        device = resolve_device(cfg.train.device)
        tensors = [
            torch.as_tensor(a, device=device)
            for a in (
                self._scaled(x[train_rows]),
                target[train_rows],
                self._scaled(x[val_rows]),
                target[val_rows],
            )
        ]
        if cfg.model.name == "mlp":
            # A model and loss as `hfa train` builds them: weights from the seed's init stream, the registry's loss.
            outputs = target.shape[1] if self.multilabel_ else 1
            model = build_model(x.shape[1], cfg.model, seed=Streams.from_seed(cfg.seed).init, out_features=outputs)
            model = model.to(device)
            loss_fn = build_run_loss(cfg, tensors[1]).to(device)
            try:
                result = fit(model, loss_fn, *tensors, cfg.train, cfg.seed)
            except RuntimeError as error:  # TrainingError: a loss that became NaN
                raise ValueError(str(error)) from error
        else:  # a baseline, fitted as `hfa train` fits it (on the CPU: scikit-learn's estimators)
            from hfa.baselines import fit_baseline

            splits = [a.cpu().numpy() for a in tensors]
            fitted = fit_baseline(cfg, *splits)
            model, result = fitted.model.to(device), fitted.result
        self.model_ = model.eval()
        self.device_ = device
        self.best_epoch_ = result.best_epoch
        self.n_epochs_ = result.epochs_run
        self.n_iter_ = result.epochs_run  # scikit-learn's name: epochs (MLP) or iterations (logistic, gbdt)
        self.history_ = [vars(log) for log in result.history]
        self._decide(tensors[2], target[val_rows], cfg, p["threshold"])
        return self

    def _takes_multilabel(self, p: dict[str, Any] | None = None) -> bool:
        """Multi-label y trains the MLP, uncalibrated (what a run's config allows for multi-label data)."""
        model, calibrate = (p["model"], p["calibrate"]) if p else (scalar(self.model), scalar(self.calibrate))
        return model == "mlp" and calibrate == "none"

    def _check_fit(self, cfg: Config, y_val: np.ndarray) -> None:
        """What a run's config refuses for its data, refused before any training: here ``y`` is the data."""
        if self.multilabel_:
            for name, value, default in (("model", cfg.model.name, "mlp"), ("calibrate", cfg.eval.calibrate, "none")):
                if value != default:
                    raise HfaError(
                        f"HfaClassifier({name}={value!r}) takes a binary y; this y has {y_val.shape[1]} label columns: "
                        f"use {name}={default!r}"
                    )
        elif cfg.eval.calibrate != "none" and len(np.unique(y_val)) < 2:
            raise HfaError(
                f"HfaClassifier(calibrate={cfg.eval.calibrate!r}) cannot be fitted: the validation split holds one "
                "class only; raise val_size or use calibrate='none'"
            )

    def _decide(self, x_val: Any, y_val: np.ndarray, cfg: Config, threshold: Any) -> None:
        """Set ``calibration_`` (the map ``calibrate`` fits on the validation scores) and ``threshold_``: the fixed
        threshold, or with ``threshold="tuned"`` the one ``hfa train`` would tune on these validation rows (on the
        calibrated scores where there is a map; per label for multi-label ``y``)."""
        import warnings

        from hfa.calibration import fit_calibration
        from hfa.cautions import FEW_TUNING_POSITIVES
        from hfa.metrics import tune_threshold
        from hfa.training import predict_proba

        positives = y_val.sum(axis=0)
        self.val_positives_ = [int(p) for p in positives] if positives.ndim else int(positives)
        scores = predict_proba(self.model_, x_val)  # float32, as hfa train tunes and calibrates on them
        self.calibration_ = None
        if cfg.eval.calibrate != "none":
            self.calibration_ = fit_calibration(cfg.eval.calibrate, scores, y_val)
            scores = self.calibration_.apply(scores)
        if threshold != "tuned":
            self.threshold_ = float(cfg.eval.threshold)
            return
        tune = functools.partial(tune_threshold, metric=cfg.eval.tune_metric, beta=cfg.loss.beta)
        if self.multilabel_:
            self.threshold_ = np.array([tune(y_val[:, j], scores[:, j]) for j in range(y_val.shape[1])])
        else:
            self.threshold_ = float(tune(y_val, scores))
        fewest = int(np.min(positives))
        if fewest < FEW_TUNING_POSITIVES:
            warnings.warn(
                f"HfaClassifier(threshold='tuned'): the threshold rests on {fewest} validation positive"
                f"{'s' * (fewest != 1)} (fewer than {FEW_TUNING_POSITIVES}) and may not hold on new data; "
                "raise val_size or give a fixed threshold",
                UserWarning,
                stacklevel=3,
            )

    def _holdout(self, target: np.ndarray, seed: int, val_size: float) -> tuple[np.ndarray, np.ndarray]:
        """Rows to train on and rows to stop early on; too few rows of a class to split means all rows do both."""
        from sklearn.model_selection import train_test_split

        rows = np.arange(len(target))
        if target.ndim == 2:
            return self._multilabel_holdout(target, seed, val_size)
        smallest = int(min(target.sum(), len(target) - target.sum()))
        n_val = int(np.ceil(val_size * len(target)))
        if not 0 < val_size < 1:
            raise HfaError(f"val_size must lie in (0, 1) (got {val_size})")
        if smallest < 2 or n_val < 2 or len(target) - n_val < 2:
            return rows, rows
        train, val = train_test_split(rows, test_size=val_size, stratify=target, random_state=seed)
        return np.sort(train), np.sort(val)

    def _multilabel_holdout(self, target: np.ndarray, seed: int, val_size: float) -> tuple[np.ndarray, np.ndarray]:
        """Iterative stratification keeps every label's share in both parts, as hfa's multi-label splits do."""
        from iterstrat.ml_stratifiers import MultilabelStratifiedShuffleSplit

        rows = np.arange(len(target))
        if not 0 < val_size < 1:
            raise HfaError(f"val_size must lie in (0, 1) (got {val_size})")
        if len(target) * val_size < 2 or len(target) * (1 - val_size) < 2:
            return rows, rows
        splitter = MultilabelStratifiedShuffleSplit(n_splits=1, test_size=val_size, random_state=seed)
        train, val = next(splitter.split(rows, target))
        return np.sort(train), np.sort(val)

    def _scaled(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean_) / self.scale_).astype(np.float32)

    def _logits(self, X: Any) -> np.ndarray:
        import torch

        check_is_fitted(self, "model_")
        X = self._validate(X, reset=False)
        x = torch.as_tensor(self._scaled(np.asarray(X, dtype=np.float64)), device=self.device_)
        with torch.no_grad():
            logits = self.model_(x)
        return logits.float().cpu().numpy().astype(np.float64)

    def decision_function(self, X: Any) -> np.ndarray:
        """The logit of the positive score (calibrated where ``calibrate`` is set) less the logit of ``threshold_``:
        > 0 where ``predict`` gives ``classes_[1]``, as scikit-learn expects of a classifier whatever its threshold
        (at 0.5 and no calibration, the model's logit itself)."""
        from scipy.special import logit

        if getattr(self, "calibration_", None) is None:
            margin = self._logits(X) - logit(self.threshold_)
        else:
            from hfa.calibration import EPS

            margin = logit(np.clip(self._positive(X), EPS, 1.0 - EPS)) - logit(self.threshold_)
        # predict takes a score at the threshold as positive (>=, as hfa train does): so does the sign here. An
        # isotonic map's steps put whole groups of rows exactly there.
        return np.where(margin == 0, np.finfo(np.float64).tiny, margin)

    def _positive(self, X: Any) -> np.ndarray:
        from scipy.special import expit

        positive = expit(self._logits(X))
        calibration = getattr(self, "calibration_", None)
        return positive if calibration is None else calibration.apply(positive)

    def predict_proba(self, X: Any) -> np.ndarray:
        """``(n, 2)``: the score for ``classes_[0]`` and ``classes_[1]``; multi-label: ``(n, L)``, each label's.

        Without ``calibrate`` a score, not a probability: a metric loss pushes it towards 0 and 1, and ``wbce``'s
        weights shift it; it ranks rows (ROC AUC, average precision) and ``predict`` cuts it at ``threshold_``. With
        ``calibrate="platt"`` or ``"isotonic"``, the probability the map fitted on the validation split gives it.
        """
        positive = self._positive(X)
        if self.multilabel_:
            return positive
        return np.column_stack([1.0 - positive, positive])

    def predict(self, X: Any) -> np.ndarray:
        """``classes_[1]`` where its probability reaches ``threshold_`` (``threshold``, or the one tuned on
        validation), else ``classes_[0]``; multi-label: 0/1 per label."""
        check_is_fitted(self, "model_")
        if self.multilabel_:
            return (self.predict_proba(X) >= self.threshold_).astype(int)
        return self.classes_[(self.predict_proba(X)[:, 1] >= self.threshold_).astype(int)]

    def __sklearn_tags__(self):  # scikit-learn >= 1.6
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        tags.classifier_tags.multi_label = self._takes_multilabel()
        tags.target_tags.multi_output = self._takes_multilabel()
        tags.non_deterministic = scalar(self.device) != "cpu"
        return tags

    def _more_tags(self) -> dict[str, Any]:  # older scikit-learn
        return {"binary_only": True, "non_deterministic": scalar(self.device) != "cpu"}
