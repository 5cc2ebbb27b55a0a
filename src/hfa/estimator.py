"""``HfaClassifier``: scikit-learn's classifier API over hfa's one trainer and loss registry.

The constructor's arguments are the config keys of a run (loss, its parameters, model and training settings),
validated by the same schema when ``fit`` is called; ``fit`` trains through ``hfa.training.fit`` with the loss
``hfa.losses.build_loss`` makes, exactly as ``hfa train`` does, with a stratified validation split cut from the
rows it is given for early stopping. Works in ``Pipeline``, ``cross_val_score``, ``GridSearchCV`` and
``TunedThresholdClassifierCV`` (which tunes the threshold on ``predict_proba``).
"""

from __future__ import annotations

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
from hfa.errors import HfaError, shorten


def _plain(value: Any) -> Any:
    """Containers as the YAML types a config holds (tuple and array -> list), NumPy scalars as Python ones; the
    values inside are left as given, so the config's own validation judges them."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, tuple | list | np.ndarray):
        return [_plain(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


class HfaClassifier(ClassifierMixin, BaseEstimator):
    """A binary MLP classifier trained on any hfa loss.

    Parameters mirror the config: ``loss`` is ``loss.name`` (``bce``, ``wbce``, ``f1``, ``fbeta``, ``auroc``, ...,
    see ``hfa losses``) and ``beta``, ``pos_weight``, ``thresholds``, ``delta``, ``approx``, ``k``, ``alpha``,
    ``gamma`` its parameters; ``hidden``, ``dropout``, ``activation`` the model; ``epochs``, ``batch_size``,
    ``lr``, ``weight_decay``, ``patience``, ``device`` the training; ``val_size`` the share of ``fit``'s rows
    held out for early stopping; ``standardize`` centres and scales features with the training rows' mean and
    standard deviation; ``threshold`` is the decision threshold of ``predict``. ``random_state`` seeds the split,
    the initial weights and the batch order (an int gives the same model every time).

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
        epochs: int = 100,
        batch_size: int = 256,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        patience: int = 10,
        val_size: float = 0.2,
        standardize: bool = True,
        threshold: float = 0.5,
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
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.patience = patience
        self.val_size = val_size
        self.standardize = standardize
        self.threshold = threshold
        self.device = device
        self.random_state = random_state

    def _config(self, seed: int) -> Config:
        """The parameters as a validated hfa config, checked exactly as a config file's values are: nothing is
        converted first (``hidden='32'``, ``(3.7,)`` and ``(True,)`` are refused, not read as widths); a tuple
        is taken as the list it stands for, a NumPy scalar as its Python number."""
        for name, value, allowed in (
            ("standardize", self.standardize, (bool, np.bool_)),
            ("val_size", self.val_size, (int, float, np.integer, np.floating)),
        ):
            if not isinstance(value, allowed) or (name == "val_size" and isinstance(value, bool | np.bool_)):
                kind = "true or false" if name == "standardize" else "a number in (0, 1)"
                raise HfaError(f"invalid value {shorten(value)} for {name!r} in HfaClassifier parameters: give {kind}")
        thresholds = list(AUTHORS_THRESHOLDS) if self.thresholds is None else _plain(self.thresholds)
        raw = {
            "seed": seed,
            "loss": {
                "name": self.loss,
                "beta": self.beta,
                "pos_weight": self.pos_weight,
                "thresholds": thresholds,
                "delta": self.delta,
                "approx": self.approx,
                "k": self.k,
                "alpha": self.alpha,
                "gamma": self.gamma,
                "average": self.average,
            },
            "model": {"hidden": _plain(self.hidden), "dropout": self.dropout, "activation": self.activation},
            "train": {
                "epochs": self.epochs,
                "batch_size": self.batch_size,
                "lr": self.lr,
                "weight_decay": self.weight_decay,
                "patience": self.patience,
                "device": self.device,
            },
            "eval": {"threshold": self.threshold},
        }
        return validate(_plain(raw), "HfaClassifier parameters")

    def _validate(self, X: Any, y: Any = "no_validation", reset: bool = True, multi_output: bool = False) -> Any:
        kwargs: dict[str, Any] = {"y": y, "dtype": [np.float64, np.float32], "reset": reset}
        if multi_output:
            kwargs["multi_output"] = True
        if validate_data is not None:
            return validate_data(self, X, **kwargs)
        return self._validate_data(X, **kwargs)  # pragma: no cover - older scikit-learn

    def fit(self, X: Any, y: Any) -> HfaClassifier:
        """Train on ``X`` (n_samples, n_features) and binary labels ``y``; returns ``self``."""
        import torch

        from hfa.model import build_model
        from hfa.runs import build_run_loss
        from hfa.training import Streams, fit

        X, y = self._validate(X, y, multi_output=True)
        kind = type_of_target(y, input_name="y")
        if kind == "unknown":
            raise ValueError(f"Unknown label type: y of dtype {y.dtype}; HfaClassifier needs class labels")
        self.multilabel_ = kind == "multilabel-indicator"
        if self.multilabel_:
            self.classes_ = np.arange(y.shape[1])
            target = np.asarray(y, dtype=np.float32)
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
        state = self.random_state
        if isinstance(state, bool | np.bool_) or not (
            state is None or isinstance(state, int | np.integer | np.random.RandomState)
        ):
            raise HfaError(f"invalid value {shorten(state)} for 'random_state': give an int, None or a RandomState")
        seed = int(state) if isinstance(state, int | np.integer) else int(check_random_state(state).randint(SEED_LIMIT))
        cfg = self._config(seed)

        train_rows, val_rows = self._holdout(target, seed)
        x = np.asarray(X, dtype=np.float64)
        if self.standardize:
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
        # A model and loss as `hfa train` builds them: weights from the seed's init stream, the registry's loss.
        outputs = target.shape[1] if self.multilabel_ else 1
        model = build_model(x.shape[1], cfg.model, seed=Streams.from_seed(cfg.seed).init, out_features=outputs)
        model = model.to(device)
        loss_fn = build_run_loss(cfg, tensors[1]).to(device)
        try:
            result = fit(model, loss_fn, *tensors, cfg.train, cfg.seed)
        except RuntimeError as error:  # TrainingError: a loss that became NaN
            raise ValueError(str(error)) from error
        self.model_ = model.eval()
        self.device_ = device
        self.best_epoch_ = result.best_epoch
        self.n_epochs_ = result.epochs_run
        self.history_ = [vars(log) for log in result.history]
        return self

    def _holdout(self, target: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows to train on and rows to stop early on; too few rows of a class to split means all rows do both."""
        from sklearn.model_selection import train_test_split

        rows = np.arange(len(target))
        if target.ndim == 2:
            return self._multilabel_holdout(target, seed)
        smallest = int(min(target.sum(), len(target) - target.sum()))
        n_val = int(np.ceil(self.val_size * len(target)))
        if not 0 < self.val_size < 1:
            raise HfaError(f"val_size must lie in (0, 1) (got {self.val_size})")
        if smallest < 2 or n_val < 2 or len(target) - n_val < 2:
            return rows, rows
        train, val = train_test_split(rows, test_size=self.val_size, stratify=target, random_state=seed)
        return np.sort(train), np.sort(val)

    def _multilabel_holdout(self, target: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Iterative stratification keeps every label's share in both parts, as hfa's multi-label splits do."""
        from iterstrat.ml_stratifiers import MultilabelStratifiedShuffleSplit

        rows = np.arange(len(target))
        if not 0 < self.val_size < 1:
            raise HfaError(f"val_size must lie in (0, 1) (got {self.val_size})")
        if len(target) * self.val_size < 2 or len(target) * (1 - self.val_size) < 2:
            return rows, rows
        splitter = MultilabelStratifiedShuffleSplit(n_splits=1, test_size=self.val_size, random_state=seed)
        train, val = next(splitter.split(rows, target))
        return np.sort(train), np.sort(val)

    def _scaled(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean_) / self.scale_).astype(np.float32)

    def decision_function(self, X: Any) -> np.ndarray:
        """The model's logit per row (> 0 leans to ``classes_[1]``)."""
        import torch

        check_is_fitted(self, "model_")
        X = self._validate(X, reset=False)
        x = torch.as_tensor(self._scaled(np.asarray(X, dtype=np.float64)), device=self.device_)
        with torch.no_grad():
            logits = self.model_(x)
        return logits.float().cpu().numpy().astype(np.float64)

    def predict_proba(self, X: Any) -> np.ndarray:
        """``(n, 2)``: probability of ``classes_[0]`` and of ``classes_[1]``; multi-label: ``(n, L)``, each label's."""
        from scipy.special import expit

        positive = expit(self.decision_function(X))
        if self.multilabel_:
            return positive
        return np.column_stack([1.0 - positive, positive])

    def predict(self, X: Any) -> np.ndarray:
        """``classes_[1]`` where its probability reaches ``threshold``, else ``classes_[0]``; multi-label: 0/1 per
        label."""
        check_is_fitted(self, "model_")
        if self.multilabel_:
            return (self.predict_proba(X) >= self.threshold).astype(int)
        return self.classes_[(self.predict_proba(X)[:, 1] >= self.threshold).astype(int)]

    def __sklearn_tags__(self):  # scikit-learn >= 1.6
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        tags.classifier_tags.multi_label = True
        tags.target_tags.multi_output = True
        tags.non_deterministic = self.device != "cpu"
        return tags

    def _more_tags(self) -> dict[str, Any]:  # older scikit-learn
        return {"binary_only": True, "non_deterministic": self.device != "cpu"}
