"""The baselines practitioners use instead of a metric loss: logistic regression and gradient-boosted trees.

They meet the trainer's contract: from a run's (train, val) splits to a module that maps preprocessed rows to
logits, the run's loss (for ``pos_weight`` and the history's losses) and a ``TrainResult``; ``hfa.runs`` evaluates
and writes them exactly as it does an MLP. scikit-learn fits them (``LogisticRegression``,
``HistGradientBoostingClassifier``); what they learned is copied into tensors (a linear map; the trees' node
arrays), so a run folder holds a state dict read with ``weights_only=True``, never a pickle, and ``hfa predict``
scores with the same module the run's evaluation used.

Class weights come from the loss: ``bce`` fits unweighted, ``wbce`` weighs each positive row ``pos_weight``
(``auto`` = negatives / positives of the training split), as weighted BCE does for the MLP.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from hfa.config import Config, ModelConfig
from hfa.errors import HfaError
from hfa.training import EpochLog, TrainResult, hard_f1


class LinearScorer(nn.Module):
    """``x @ coef + intercept`` in float64: a logistic regression's logits, as scikit-learn's ``decision_function``."""

    def __init__(self, coef: torch.Tensor, intercept: torch.Tensor) -> None:
        super().__init__()
        # Parameters (never trained here) so that run.json's n_parameters counts them.
        self.coef = nn.Parameter(coef.to(torch.float64), requires_grad=False)
        self.intercept = nn.Parameter(intercept.to(torch.float64), requires_grad=False)

    @classmethod
    def empty(cls, state: dict[str, torch.Tensor]) -> LinearScorer:
        return cls(torch.zeros_like(state["coef"]), torch.zeros_like(state["intercept"]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.to(torch.float64) @ self.coef + self.intercept


class TreeScorer(nn.Module):
    """Boosted trees as padded node arrays ``(trees, nodes)``: the sum of each tree's leaf value plus the baseline.

    A row goes left where its feature value is ``<= threshold`` (a missing value where ``missing_left``), as
    scikit-learn's predictor does; all rows walk a tree together, one level per step, so scoring loops over trees
    and depth, never rows. Trees are summed in order in float64, as scikit-learn adds them, so the logits equal its
    ``decision_function`` bit for bit.
    """

    def __init__(self, arrays: dict[str, torch.Tensor]) -> None:
        super().__init__()
        self.value = nn.Parameter(arrays["value"].to(torch.float64), requires_grad=False)  # leaf values
        for name in ("feature", "threshold", "left", "right", "is_leaf", "missing_left", "depth", "baseline"):
            self.register_buffer(name, arrays[name])

    @classmethod
    def empty(cls, state: dict[str, torch.Tensor]) -> TreeScorer:
        return cls({name: torch.zeros_like(tensor) for name, tensor in state.items()})

    def check(self, n_features: int) -> None:
        """Raise ``HfaError`` unless every index points inside its array, so scoring cannot read past one."""
        shape = self.value.shape
        nodes = (self.feature, self.threshold, self.left, self.right, self.is_leaf, self.missing_left)
        if len(shape) != 2 or any(t.shape != shape for t in nodes) or self.depth.shape != shape[:1]:
            raise HfaError("the trees' node arrays differ in shape; train the run again")
        if self.baseline.shape != (1,):
            raise HfaError("the trees' baseline is not one number; train the run again")
        width = shape[1]
        problems = [
            ("feature", self.feature, n_features),
            ("left", self.left, width),
            ("right", self.right, width),
            ("depth", self.depth, width),
        ]
        for name, tensor, bound in problems:
            if tensor.dtype != torch.int64 or tensor.numel() and not (tensor.min() >= 0 and tensor.max() < bound):
                raise HfaError(
                    f"the trees' {name!r} indices are not whole numbers in [0, {bound}); train the run again"
                )
        if self.is_leaf.dtype != torch.bool or self.missing_left.dtype != torch.bool:
            raise HfaError("the trees' leaf and missing-value flags are not booleans; train the run again")
        stuck = self._unfinished_walks()
        if stuck is not None:
            raise HfaError(
                f"tree {stuck} has a path from its root that reaches no leaf within its depth (a loop, or a split "
                "node where a leaf belongs), so a row would score by a split node's value; train the run again"
            )

    def _unfinished_walks(self) -> int | None:
        """The first tree where ``forward``'s walk of ``depth`` steps can end on a split node, else None.

        Every node a row can reach is followed, all trees at once: a self-loop, a cycle or a tree without leaves
        leaves a split node reached after the last step."""
        trees, width = self.value.shape
        reached = torch.zeros(trees, width, dtype=torch.float64)
        reached[:, 0] = 1.0  # every row starts at the root
        for step in range(int(self.depth.max()) if trees else 0):
            moving = reached * (~self.is_leaf) * (self.depth > step)[:, None]
            following = reached - moving  # leaves keep their rows, as forward's torch.where does
            following.scatter_add_(1, self.left, moving).scatter_add_(1, self.right, moving)
            reached = (following > 0).to(torch.float64)
        stuck = ((reached > 0) & ~self.is_leaf).any(dim=1).nonzero()
        return int(stuck[0, 0]) if len(stuck) else None

    @classmethod
    def from_sklearn(cls, fitted) -> TreeScorer:
        """The trees of a fitted binary ``HistGradientBoostingClassifier`` (one tree per iteration)."""
        nodes = [predictors[0].nodes for predictors in fitted._predictors]
        if any(node["is_categorical"].any() for node in nodes):
            raise HfaError("gbdt split on a categorical feature; hfa one-hot encodes categories, so this is a bug")
        width = max(len(n) for n in nodes)

        def padded(field: str, dtype: torch.dtype, fill: float) -> torch.Tensor:
            out = np.full((len(nodes), width), fill, dtype=nodes[0][field].dtype)
            for row, node in enumerate(nodes):
                out[row, : len(node)] = node[field]
            return torch.from_numpy(out.astype(np.float64 if dtype == torch.float64 else np.int64)).to(dtype)

        return cls(
            {
                "value": padded("value", torch.float64, 0.0),
                "feature": padded("feature_idx", torch.int64, 0),
                "threshold": padded("num_threshold", torch.float64, 0.0),
                "left": padded("left", torch.int64, 0),
                "right": padded("right", torch.int64, 0),
                "is_leaf": padded("is_leaf", torch.bool, 1),
                "missing_left": padded("missing_go_to_left", torch.bool, 0),
                "depth": torch.as_tensor([int(n["depth"].max()) for n in nodes], dtype=torch.int64),
                "baseline": torch.as_tensor(np.ravel(fitted._baseline_prediction), dtype=torch.float64),
            }
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(torch.float64)
        rows = torch.arange(x.shape[0], device=x.device)
        logits = self.baseline.expand(x.shape[0]).clone()
        for tree, depth in enumerate(self.depth.tolist()):
            node = torch.zeros(x.shape[0], dtype=torch.int64, device=x.device)
            feature, threshold = self.feature[tree], self.threshold[tree]
            left, right, is_leaf, missing_left = (
                self.left[tree],
                self.right[tree],
                self.is_leaf[tree],
                self.missing_left[tree],
            )
            for _ in range(depth):
                values = x[rows, feature[node]]
                go_left = torch.where(values.isnan(), missing_left[node], values <= threshold[node])
                node = torch.where(is_leaf[node], node, torch.where(go_left, left[node], right[node]))
            logits += self.value[tree][node]
        return logits


SCORERS: dict[str, type[LinearScorer] | type[TreeScorer]] = {"logistic": LinearScorer, "gbdt": TreeScorer}


def load_model(model_cfg: ModelConfig, n_features: int, outputs: int, state: dict[str, torch.Tensor]) -> nn.Module:
    """The scoring module of a run folder's ``model.pt`` state: an MLP, or a baseline's tensors."""
    if model_cfg.name == "mlp":
        from hfa.model import build_model

        model: nn.Module = build_model(n_features, model_cfg, out_features=outputs)
    else:
        model = SCORERS[model_cfg.name].empty(state)
    expected = model.state_dict()
    for name, tensor in state.items():  # load_state_dict would cast an int64 or float16 tensor silently
        if name in expected and tensor.dtype != expected[name].dtype:
            raise ValueError(f"tensor {name!r} is {tensor.dtype}, where hfa writes {expected[name].dtype}")
    model.load_state_dict(state)
    if isinstance(model, TreeScorer):
        model.check(n_features)
    return model.eval()


@dataclass
class Fitted:
    """What a fit leaves for evaluation, for an MLP stack member and a baseline alike."""

    model: nn.Module  # preprocessed rows -> logits
    loss_fn: nn.Module
    result: TrainResult


def sample_weights(y: np.ndarray, pos_weight: float | None) -> np.ndarray | None:
    """Each row's weight in the fit: 1, positives ``pos_weight`` (None: unweighted)."""
    return None if pos_weight is None else np.where(y > 0.5, pos_weight, 1.0)


def fit_baseline(cfg: Config, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray) -> Fitted:
    """Fit ``cfg.model.name`` (logistic or gbdt) on the training split, seeded by the run's seed.

    gbdt stops early on the run's own validation split (the one its thresholds are tuned on, as the MLP's early
    stopping uses) after ``train.patience`` iterations without a better validation loss; ``train.patience: 0`` fits
    all ``model.max_iter`` trees. scikit-learn's own early stopping would carve its validation rows out of the
    training split, so a gbdt run would train on fewer rows than the MLP it is compared with.
    """
    from hfa.runs import build_run_loss

    start = time.perf_counter()
    loss_fn = build_run_loss(cfg, torch.as_tensor(y_train))
    pos_weight = getattr(loss_fn, "pos_weight", None)
    x64, labels = np.asarray(x_train, dtype=np.float64), (y_train > 0.5).astype(np.int64)
    weights = sample_weights(y_train, pos_weight)
    with warnings.catch_warnings(record=True) as caught:  # the library never prints; convergence is recorded
        warnings.simplefilter("always")
        if cfg.model.name == "logistic":
            model, iterations, stopped = _fit_logistic(cfg, x64, labels, weights, caught)
        else:
            model, iterations, stopped = _fit_gbdt(cfg, x64, labels, weights, x_val, y_val, pos_weight)
    result = TrainResult(best_epoch=iterations, epochs_run=iterations, stopped=stopped)
    result.history.append(_history_row(model, loss_fn, iterations, x_train, y_train, x_val, y_val))
    result.seconds = time.perf_counter() - start
    return Fitted(model, loss_fn, result)


def _fit_logistic(cfg: Config, x: np.ndarray, y: np.ndarray, weights: np.ndarray | None, caught: list):
    from sklearn.exceptions import ConvergenceWarning

    fitted = logistic_estimator(cfg).fit(x, y, sample_weight=weights)
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    model = LinearScorer(torch.from_numpy(fitted.coef_[0]), torch.from_numpy(fitted.intercept_))
    return model, int(fitted.n_iter_[0]), "converged" if converged else "max_iter"


def logistic_estimator(cfg: Config):
    """The scikit-learn estimator a logistic run fits (L2 penalty, lbfgs)."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=cfg.model.C, max_iter=1000, random_state=cfg.seed)


def gbdt_estimator(cfg: Config):
    """The scikit-learn estimator a gbdt run fits; early stopping on the run's validation split (see
    :func:`fit_baseline`)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    m, patience = cfg.model, cfg.train.patience
    return HistGradientBoostingClassifier(
        learning_rate=m.learning_rate,
        max_iter=m.max_iter,
        max_leaf_nodes=m.max_leaf_nodes,
        max_depth=m.max_depth,
        min_samples_leaf=m.min_samples_leaf,
        l2_regularization=m.l2_regularization,
        early_stopping=patience > 0,
        n_iter_no_change=max(patience, 1),
        scoring="loss",
        random_state=cfg.seed,
    )


def _fit_gbdt(cfg, x, y, weights, x_val, y_val, pos_weight):
    estimator = gbdt_estimator(cfg)
    fit_args = {}
    if estimator.early_stopping:
        fit_args = {
            "X_val": np.asarray(x_val, dtype=np.float64),
            "y_val": (y_val > 0.5).astype(np.int64),
            "sample_weight_val": sample_weights(y_val, pos_weight),
        }
    fitted = estimator.fit(x, y, sample_weight=weights, **fit_args)
    stopped = "early_stopping" if fitted.n_iter_ < cfg.model.max_iter else "max_iter"
    return TreeScorer.from_sklearn(fitted), int(fitted.n_iter_), stopped


@torch.no_grad()
def _history_row(model, loss_fn, iterations, x_train, y_train, x_val, y_val) -> EpochLog:
    """history.csv's one row: the run's own loss on both splits at the fitted model (the MLP's history measures the
    same), and the validation F1 at probability 0.5."""
    losses = []
    for x, y in ((x_train, y_train), (x_val, y_val)):
        logits = model(torch.as_tensor(x)).to(torch.float32)[None]
        losses.append(float(loss_fn.per_row(logits, torch.as_tensor(y)[None])[0]))
    val_logits = model(torch.as_tensor(x_val))[None]
    f1 = float(hard_f1(val_logits, torch.as_tensor(y_val)[None])[0])
    return EpochLog(iterations, losses[0], losses[1], f1, True)
