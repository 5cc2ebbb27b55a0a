"""The training split resampled (``data.resample``) with imbalanced-learn: random over- or under-sampling, SMOTE.

Only the training split changes. Validation keeps the class ratio the model will meet, so early stopping, the
tuned thresholds and a calibration map are chosen on rows like the test rows, which are never touched.
Resampling comes after preprocessing: SMOTE interpolates between rows, so categories are one-hot and gaps imputed
by then, and the scaler's statistics are those of the rows as they came, not of copies or synthetic rows.
Each resampler balances the classes (imbalanced-learn's ``sampling_strategy="auto"``).
"""

from __future__ import annotations

import numpy as np

from hfa.errors import HfaError
from hfa.methods import RESAMPLERS, SMOTE_NEIGHBOURS


def resample_training(
    x: np.ndarray, y: np.ndarray, method: str, seed: int, where: str = "the training split"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(x, y, source)`` of ``x, y`` resampled by ``method`` with ``random_state=seed``.

    ``source`` gives each returned row's position in ``x`` (-1 for a row SMOTE made). ``x`` float32 ``(n, d)``,
    ``y`` in {0, 1} ``(n,)``; the output keeps their dtypes.

    Raises:
        HfaError: for an unknown method, or SMOTE with fewer minority rows than its neighbours and the row itself.
    """
    if method not in RESAMPLERS:
        raise HfaError(f"unknown resampler {method!r}; allowed: {', '.join(RESAMPLERS)}")
    if method == "none":
        return x, y, np.arange(len(y))
    minority = int(min(np.sum(y == 1), np.sum(y == 0)))
    if method == "smote" and minority < SMOTE_NEIGHBOURS + 1:
        label = "positive" if np.sum(y == 1) <= np.sum(y == 0) else "negative"
        raise HfaError(
            f"data.resample=smote needs at least {SMOTE_NEIGHBOURS + 1} {label}s in {where} (each interpolates "
            f"towards one of its {SMOTE_NEIGHBOURS} nearest), and it holds {minority}; use random_over, or keep "
            "more rows (data.imbalance_ratio, data.val_size)"
        )
    from imblearn.over_sampling import SMOTE, RandomOverSampler
    from imblearn.under_sampling import RandomUnderSampler

    samplers = {
        "random_over": lambda: RandomOverSampler(random_state=seed),
        "random_under": lambda: RandomUnderSampler(random_state=seed),
        "smote": lambda: SMOTE(random_state=seed, k_neighbors=SMOTE_NEIGHBOURS),
    }
    sampler = samplers[method]()
    x_out, y_out = sampler.fit_resample(x, y.astype(np.int64))
    # SMOTE returns the rows it was given, in order, then the rows it made; the random samplers say which rows.
    source = getattr(sampler, "sample_indices_", None)
    if source is None:
        source = np.concatenate([np.arange(len(y)), np.full(len(y_out) - len(y), -1)])
    return np.asarray(x_out, dtype=x.dtype), np.asarray(y_out, dtype=y.dtype), np.asarray(source, dtype=np.int64)
