"""HfaClassifier in a GridSearchCV at ratio ~9:1, fixed and tuned threshold, beside scikit-learn's own answer.

    OMP_NUM_THREADS=1 python benchmarks/estimator_grid.py

1,100 rows of ``make_classification`` (10 features, 4 informative, 10% positives, 2% of labels flipped); 5
stratified folds; a grid of 4 losses x 2 learning rates (40 fits and the refit). Beside it,
``TunedThresholdClassifierCV(MLPClassifier)`` over 4 learning rates x 2 alphas (the same 40 outer fits, each with
its own 5-fold threshold search). Prints the best CV F1 and the wall time of each search.
"""

from __future__ import annotations

import time
import warnings

from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, StratifiedKFold, TunedThresholdClassifierCV
from sklearn.neural_network import MLPClassifier

from hfa import HfaClassifier


def main() -> None:
    X, y = make_classification(
        n_samples=1100, n_features=10, n_informative=4, weights=[10 / 11], flip_y=0.02, random_state=0
    )
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    print(f"{len(y)} rows, {y.sum()} positives ({(1 - y).sum() / y.sum():.1f} negatives per positive)")
    grid = {"loss": ["bce", "wbce", "f1", "auroc"], "lr": [0.003, 0.01]}
    for threshold in (0.5, "tuned"):
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            search = GridSearchCV(HfaClassifier(threshold=threshold, hidden=(32,)), grid, cv=cv, scoring="f1")
            search.fit(X, y)
        few = sum("validation positive" in str(w.message) for w in caught)
        print(
            f"HfaClassifier(threshold={threshold!r}): best CV F1 {search.best_score_:.3f} {search.best_params_}, "
            f"{time.perf_counter() - start:.1f} s for 41 fits ({few} warned of few validation positives)"
        )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = TunedThresholdClassifierCV(MLPClassifier(hidden_layer_sizes=(32,), max_iter=300, random_state=0))
        grid = {"estimator__learning_rate_init": [0.001, 0.003, 0.01, 0.03], "estimator__alpha": [1e-4, 1e-2]}
        search = GridSearchCV(mlp, grid, cv=cv, scoring="f1").fit(X, y)
    print(
        f"TunedThresholdClassifierCV(MLPClassifier): best CV F1 {search.best_score_:.3f} {search.best_params_}, "
        f"{time.perf_counter() - start:.1f} s for 41 fits"
    )


if __name__ == "__main__":
    main()
