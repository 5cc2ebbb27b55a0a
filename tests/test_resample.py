"""data.resample: imbalanced-learn on the training split only, seeded, recorded, refused where it cannot run."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from imblearn.over_sampling import SMOTE, RandomOverSampler
from imblearn.under_sampling import RandomUnderSampler

from hfa.config import canonical, load_config, run_id
from hfa.data import clear_caches, prepare_data
from hfa.data.resample import resample_training
from hfa.errors import HfaError

RESAMPLERS = ("random_over", "random_under", "smote")
SMALL = ["data.n_samples=600", "data.cluster_std=2.0"]


def _splits(*overrides: str):
    given = {item.partition("=")[0] for item in overrides}  # a test's own value replaces SMALL's (said once)
    return prepare_data(
        load_config(None, [*(o for o in SMALL if o.partition("=")[0] not in given), *overrides]).resolved_data()
    )


def _rows(x: np.ndarray) -> set[bytes]:
    return {row.tobytes() for row in x}


@pytest.mark.parametrize("method", RESAMPLERS)
def test_validation_and_test_rows_are_untouched_and_training_is_balanced(method):
    plain = _splits("data.imbalance_ratio=9")
    done = _splits("data.imbalance_ratio=9", f"data.resample={method}")
    for split in ("val", "test"):
        assert np.array_equal(getattr(done, f"x_{split}"), getattr(plain, f"x_{split}"))
        assert np.array_equal(getattr(done, f"y_{split}"), getattr(plain, f"y_{split}"))
        assert np.array_equal(done.indices[split], plain.indices[split])
        assert done.info["splits"][split] == plain.info["splits"][split]
    positives, negatives = int(done.y_train.sum()), int(len(done.y_train) - done.y_train.sum())
    assert positives == negatives
    before = plain.info["splits"]["train"]
    assert done.info["resample"]["before"] == before
    assert done.info["splits"]["train"] == done.info["resample"]["after"]
    assert done.info["splits"]["train"]["rows"] == len(done.y_train)
    expected = 2 * before["negatives"] if method != "random_under" else 2 * before["positives"]
    assert len(done.y_train) == expected
    # The preprocessing is the one fitted on the training rows as they came.
    assert done.preprocessing.to_dict() == plain.preprocessing.to_dict()


def test_random_samplers_keep_training_rows_and_say_which():
    plain = _splits("data.imbalance_ratio=9")
    for method in ("random_over", "random_under"):
        done = _splits("data.imbalance_ratio=9", f"data.resample={method}")
        assert _rows(done.x_train) <= _rows(plain.x_train)
        position = {int(p): i for i, p in enumerate(plain.indices["train"])}
        source = [position[int(p)] for p in done.indices["train"]]
        assert np.array_equal(done.x_train, plain.x_train[source])
        assert np.array_equal(done.y_train, plain.y_train[source])


def test_smote_keeps_every_training_row_and_adds_positives_marked_minus_one():
    plain = _splits("data.imbalance_ratio=9")
    done = _splits("data.imbalance_ratio=9", "data.resample=smote")
    n = len(plain.y_train)
    assert np.array_equal(done.x_train[:n], plain.x_train)
    assert np.array_equal(done.indices["train"][:n], plain.indices["train"])
    assert (done.indices["train"][n:] == -1).all() and (done.y_train[n:] == 1).all()
    assert done.info["resample"]["k_neighbors"] == 5


@pytest.mark.parametrize(
    ("method", "sampler"),
    [
        ("random_over", lambda s: RandomOverSampler(random_state=s)),
        ("random_under", lambda s: RandomUnderSampler(random_state=s)),
        ("smote", lambda s: SMOTE(random_state=s)),
    ],
)
def test_resampling_is_imbalanced_learns_own_with_the_seed(method, sampler):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 4)).astype(np.float32)
    y = (rng.random(300) < 0.15).astype(np.float32)
    x_out, y_out, _ = resample_training(x, y, method, 17)
    x_ref, y_ref = sampler(17).fit_resample(x, y.astype(np.int64))
    assert np.array_equal(x_out, x_ref.astype(np.float32)) and np.array_equal(y_out, y_ref)
    assert x_out.dtype == np.float32 and y_out.dtype == np.float32


@pytest.mark.parametrize("method", RESAMPLERS)
def test_same_seed_same_rows_and_the_run_seed_draws_them(method):
    clear_caches()
    first = _splits("data.imbalance_ratio=9", f"data.resample={method}", "seed=4")
    clear_caches()
    again = _splits("data.imbalance_ratio=9", f"data.resample={method}", "seed=4")
    assert np.array_equal(first.x_train, again.x_train) and np.array_equal(first.y_train, again.y_train)
    pinned = [f"data.resample={method}", "data.imbalance_ratio=9", "data.seed=4"]
    a, b = _splits(*pinned, "seed=0"), _splits(*pinned, "seed=1")
    assert np.array_equal(a.x_train, b.x_train)  # data.seed pins the data, resampling included
    assert a.info["resample"]["seed"] == 4


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(40, 400),
    share=st.floats(0.03, 0.97),
    d=st.integers(1, 5),
    seed=st.integers(0, 2**32 - 1),
    method=st.sampled_from(RESAMPLERS),
)
def test_generated_resamples_balance_only_what_they_were_given(n, share, d, seed, method):
    """Any sizes and class shares: the output is balanced, keeps the input's rows (random samplers) or all of them
    (SMOTE), and a second call gives the same rows."""
    rng = np.random.default_rng(seed)
    y = np.zeros(n, np.float32)
    y[rng.permutation(n)[: max(6, min(n - 6, round(share * n)))]] = 1
    x = rng.normal(size=(n, d)).astype(np.float32)
    x_out, y_out, source = resample_training(x, y, method, seed)
    pos, neg = int(y.sum()), int(n - y.sum())
    assert (
        int(y_out.sum())
        == int(len(y_out) - y_out.sum())
        == (min(pos, neg) if method == "random_under" else max(pos, neg))
    )
    made = source == -1
    assert np.array_equal(x_out[~made], x[source[~made]]) and np.array_equal(y_out[~made], y[source[~made]])
    assert made.any() == (method == "smote" and pos != neg)
    again = resample_training(x, y, method, seed)
    assert all(np.array_equal(a, b) for a, b in zip(again, (x_out, y_out, source), strict=True))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ratio=st.sampled_from([1.0, 3.0, 9.0]),
    seed=st.integers(0, 50),
    folds=st.sampled_from([None, 3, 5]),
    method=st.sampled_from(RESAMPLERS),
)
def test_generated_configs_leave_validation_and_test_as_they_were(ratio, seed, folds, method):
    """Through prepare_data, single split or k-fold: validation and test rows and ratios are those of the run
    without resampling."""
    common = [f"data.imbalance_ratio={ratio}", f"seed={seed}"]
    if folds is not None:
        common += [f"data.folds={folds}", f"data.fold={seed % folds}"]
    plain, done = _splits(*common), _splits(*common, f"data.resample={method}")
    for split in ("val", "test"):
        assert np.array_equal(getattr(done, f"x_{split}"), getattr(plain, f"x_{split}"))
        assert np.array_equal(getattr(done, f"y_{split}"), getattr(plain, f"y_{split}"))
        assert done.info["splits"][split] == plain.info["splits"][split]
    assert done.info["resample"]["before"] == plain.info["splits"]["train"]


def test_smote_with_too_few_training_positives_is_one_line():
    # 5-fold on 126 rows at ratio 22: 5 training positives, fewer than SMOTE's 5 neighbours and the row itself.
    overrides = ["data.n_samples=400", "data.folds=5", "data.imbalance_ratio=22"]
    with pytest.raises(HfaError, match=r"needs at least 6 positives in the training split of synthetic .* holds 5"):
        _splits(*overrides, "data.resample=smote")
    assert _splits(*overrides, "data.resample=random_over").info["resample"]["after"]["positives"] > 5


def test_resampler_names_and_multilabel_are_refused_by_the_config():
    with pytest.raises(HfaError, match=r"data.resample.*allowed: 'none', 'random_over', 'random_under' or 'smote'"):
        load_config(None, ["data.resample=adasyn"])
    with pytest.raises(HfaError, match="resamples single-label data"):
        load_config(None, ["data.name=mulan/yeast", "data.resample=smote"])
    with pytest.raises(HfaError, match="unknown resampler"):
        resample_training(np.zeros((4, 1), np.float32), np.array([0, 0, 1, 1], np.float32), "tomek", 0)


def test_resample_none_stays_out_of_the_run_id_and_others_make_new_runs():
    plain = load_config(None, [])
    explicit = load_config(None, ["data.resample=none"])
    assert "resample" not in canonical(plain)["data"] and run_id(plain) == run_id(explicit)
    ids = {run_id(load_config(None, [f"data.resample={m}"])) for m in RESAMPLERS}
    assert len(ids) == 3 and run_id(plain) not in ids
    assert canonical(load_config(None, ["data.resample=smote"]))["data"]["resample"] == "smote"


def test_shipped_run_ids_do_not_change():
    """The shipped configs' run ids as hfa wrote them before data.resample and eval.calibrate existed."""
    assert run_id(load_config("configs/quickstart.yaml")) == "bce_ir20_s0_9b8b5b60"
    assert run_id(load_config("configs/keel-yeast4.yaml")) == "wbce_irnatural_s0_743b68f2"
