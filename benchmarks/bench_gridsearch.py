"""Issue 24: ``HfaClassifier`` in a scikit-learn ``GridSearchCV`` of 40 small fits (8 settings x 5 folds) against
``MLPClassifier`` in the same search, in this process (both libraries already imported).

The data: 2,000 rows x 10 features of two overlapping blobs. The grid: hidden (32,) or (32, 32), learning rate
1e-3 or 3e-3, batch 128 or 256; 10 epochs, no early stopping on either side (``patience=0``; ``MLPClassifier``
with ``tol=0``). ``HfaClassifier`` holds out its default 20 % of each fold's rows for validation. One warm-up
search each, then timed searches alternate.
"""

from __future__ import annotations

import warnings

import numpy as np

from common import Row, Settings, seconds_row

TARGET = 1.0
GRID = {"hidden": [(32,), (32, 32)], "lr": [1e-3, 3e-3], "batch_size": [128, 256]}
MLP_NAMES = {"hidden": "hidden_layer_sizes", "lr": "learning_rate_init", "batch_size": "batch_size"}


def _searches(settings: Settings):
    from sklearn.datasets import make_blobs
    from sklearn.model_selection import GridSearchCV
    from sklearn.neural_network import MLPClassifier

    from hfa import HfaClassifier

    x, y = make_blobs(n_samples=2000, n_features=10, centers=2, cluster_std=6.0, random_state=0)
    x = x.astype(np.float32)
    hfa = GridSearchCV(HfaClassifier(epochs=10, patience=0, random_state=0), GRID, cv=5, scoring="f1")
    mlp_grid = {MLP_NAMES[key]: values for key, values in GRID.items()}
    mlp = MLPClassifier(max_iter=10, tol=0.0, n_iter_no_change=10**9, random_state=0)
    peer = GridSearchCV(mlp, mlp_grid, cv=5, scoring="f1")

    def fit(search) -> float:
        start = settings.elapsed()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # MLPClassifier: max_iter reached, the epochs asked for
            search.fit(x, y)
        return settings.elapsed() - start

    return lambda: fit(hfa), lambda: fit(peer)


def run(settings: Settings) -> list[Row]:
    hfa_fit, peer_fit = _searches(settings)
    hfa_fit(), peer_fit()  # warm-up: first-call costs (lazy imports, kernel paging) on both sides
    repeats = 1 if settings.quick else 3
    samples: dict[str, list[float]] = {"hfa": [], "peer": []}
    for _ in range(repeats):
        samples["hfa"].append(hfa_fit())
        samples["peer"].append(peer_fit())
    hfa, peer = (float(np.median(samples[key])) for key in ("hfa", "peer"))
    note = "HfaClassifier vs MLPClassifier in the same GridSearchCV (8 settings x 5 folds, 10 epochs)"
    return [
        seconds_row(
            "GridSearchCV vs MLPClassifier",
            "40 fits, 2k x 10",
            hfa,
            peer,
            TARGET,
            f"s {settings.clock} per search of 40 fits",
            note,
            repeats,
        )
    ]
