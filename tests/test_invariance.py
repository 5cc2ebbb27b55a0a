"""A run's numbers are a function of its config alone: the same alone, in any stack, with any company.

Checked bit for bit (``torch.equal``) on the trainer itself for every loss, with and without dropout, in stacks of 1,
2, 3 and 17 members; and end to end on run folders written by ``hfa train``'s path, by a sweep, and by a resumed one.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from hfa.config import Config, DataConfig, load_config
from hfa.data import prepare_data
from hfa.losses import LOSSES, build_loss, group_losses
from hfa.model import StackedMLP, build_model
from hfa.optim import StackedAdam
from hfa.runs import build_run_loss, execute_run
from hfa.sweep import execute, units
from hfa.training import Member, MemberData, Streams, TrainConfig, train

LOSS_NAMES = list(LOSSES)
TRAIN = TrainConfig(epochs=12, batch_size=64, lr=0.05, patience=1, device="cpu")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # The sweep's setting; tiny matmuls gain nothing from threads on a busy machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _data(seed: int) -> MemberData:
    splits = prepare_data(DataConfig(name="synthetic", n_samples=900, imbalance_ratio=4, cluster_std=6.0, seed=seed))
    return MemberData(*(torch.as_tensor(a) for a in (splits.x_train, splits.y_train, splits.x_val, splits.y_val)))


@pytest.fixture(scope="module")
def datasets() -> list[MemberData]:
    return [_data(seed) for seed in range(3)]


def _spec(index: int) -> tuple[str, int, int]:
    """Member ``index`` of the company: (loss name, seed, data set), cycling through every loss."""
    return LOSS_NAMES[index % len(LOSS_NAMES)], 100 + index, index % 3


def _trained(
    specs: list[tuple[str, int, int]],
    datasets: list[MemberData],
    dropout: float,
    activation: str = "relu",
    settings: TrainConfig = TRAIN,
):
    """Train ``specs`` as one stack; per member: (history as tuples, final state dict)."""
    cfg = Config()
    cfg.model.hidden, cfg.model.dropout, cfg.model.activation = [8, 4], dropout, activation
    members = []
    for loss, seed, data, *params in specs:
        cfg.loss = cfg.loss.model_copy(update={"name": loss, **(params[0] if params else {})})
        model = build_model(2, cfg.model, seed=Streams.from_seed(seed).init)
        members.append(Member(model, build_run_loss(cfg, datasets[data].y_train), data, seed))
    results = train(members, datasets, settings)
    return [
        ([tuple(vars(log).values()) for log in result.history], member.model.state_dict())
        for member, result in zip(members, results, strict=True)
    ]


def _assert_same(a, b) -> None:
    assert a[0] == b[0]  # every epoch's train loss, val loss, val F1 and best flag, exactly
    assert a[1].keys() == b[1].keys()
    assert all(torch.equal(a[1][k], b[1][k]) for k in a[1])


@pytest.mark.parametrize("dropout", [0.0, 0.5], ids=["no-dropout", "dropout"])
def test_every_member_trains_as_it_would_alone(datasets, dropout):
    """17 members (every loss twice, three data splits): each equals its run alone and in stacks of 2 and 3."""
    company = [_spec(i) for i in range(17)]
    stacked = _trained(company, datasets, dropout)
    for i, spec in enumerate(company):
        alone = _trained([spec], datasets, dropout)[0]
        _assert_same(stacked[i], alone)
    # Other company, other positions in the stack.
    for picks in ([3, 16], [16, 5, 0], [8, 7, 6]):
        small = _trained([company[i] for i in picks], datasets, dropout)
        for got, i in zip(small, picks, strict=True):
            _assert_same(got, stacked[i])


def test_members_differing_only_in_loss_parameters_train_as_they_would_alone(datasets):
    """A tuning study's trials differ in a loss parameter: such members share one loss call per step (a table or
    a constant per row), and each still equals its run alone."""
    params = [{"delta": 0.05}, {"delta": 0.3}, {"delta": 0.45}, {"gamma": 0.0}, {"gamma": 4.0, "alpha": 0.9}]
    company = [("f1" if "delta" in p else "focal", 200 + i, i % 3, p) for i, p in enumerate(params)]
    company += [("mcc", 210, 1, {"delta": 0.2}), ("mcc", 211, 2, {"delta": 0.1}), ("wbce", 212, 0, {"pos_weight": 9.0})]
    losses = [build_loss(name, **p) for name, _, _, p in company]
    assert [positions for positions, _ in group_losses(losses)] == [[0, 1, 2], [3, 4], [5, 6], [7]]
    stacked = _trained(company, datasets, 0.5)
    for i, spec in enumerate(company):
        _assert_same(stacked[i], _trained([spec], datasets, 0.5)[0])


def _multilabel_data(seed: int, labels: int = 3) -> MemberData:
    """Synthetic blobs with three labels: the class, and two noisy views of it at other imbalances."""
    splits = prepare_data(DataConfig(name="synthetic", n_samples=900, imbalance_ratio=4, cluster_std=6.0, seed=seed))
    g = torch.Generator().manual_seed(seed)

    def labelled(x: np.ndarray, y: np.ndarray) -> torch.Tensor:
        y = torch.as_tensor(y)
        noisy = [(torch.as_tensor(x[:, j]) + torch.randn(len(y), generator=g) > 1.0).float() for j in range(labels - 1)]
        return torch.stack([y, *noisy], 1)

    return MemberData(
        torch.as_tensor(splits.x_train),
        labelled(splits.x_train, splits.y_train),
        torch.as_tensor(splits.x_val),
        labelled(splits.x_val, splits.y_val),
    )


ML_SPECS = [
    ("bce", "macro"),
    ("wbce", "macro"),
    ("f1", "macro"),
    ("f1", "micro"),
    ("focal", "macro"),
    ("auroc", "micro"),
]


def _trained_multilabel(specs: list[tuple[int, int]], datasets: list[MemberData], dropout: float):
    """Multi-label members (index into ML_SPECS, seed); data ``seed % 2``."""
    cfg = Config()
    cfg.model.hidden, cfg.model.dropout = [8, 4], dropout
    members = []
    for spec, seed in specs:
        cfg.loss.name, cfg.loss.average = ML_SPECS[spec]
        model = build_model(2, cfg.model, seed=Streams.from_seed(seed).init, out_features=3)
        y_train = datasets[seed % 2].y_train
        members.append(Member(model, build_run_loss(cfg, y_train, ["a", "b", "c"]), seed % 2, seed))
    results = train(members, datasets, TRAIN)
    return [
        ([tuple(vars(log).values()) for log in result.history], member.model.state_dict())
        for member, result in zip(members, results, strict=True)
    ]


@pytest.mark.parametrize("dropout", [0.0, 0.5], ids=["no-dropout", "dropout"])
def test_multilabel_members_train_as_they_would_alone(dropout):
    """Multi-label members (three outputs, every kind of loss, macro and micro) in a stack of 12 and of 3 equal
    their runs alone."""
    datasets = [_multilabel_data(seed) for seed in range(2)]
    company = [(i % len(ML_SPECS), 200 + i) for i in range(12)]
    stacked = _trained_multilabel(company, datasets, dropout)
    assert [v for k, v in stacked[0][1].items() if k.endswith("weight")][-1].shape == (3, 4)  # one output per label
    for i in (0, 1, 2, 3, 4, 5, 11):
        _assert_same(stacked[i], _trained_multilabel([company[i]], datasets, dropout)[0])
    for got, i in zip(_trained_multilabel([company[i] for i in (9, 2, 7)], datasets, dropout), (9, 2, 7), strict=True):
        _assert_same(got, stacked[i])


@pytest.mark.parametrize("activation", ["tanh", "gelu", "silu"])
@pytest.mark.parametrize("batch_size", [50, 100])
def test_odd_batch_sizes_and_smooth_activations(datasets, activation, batch_size):
    """Batches of 50 or 100 (not a whole number of vector iterations) through tanh/GELU/SiLU: still the same bits.

    With 100 the epoch's last batch (36 rows, padded to 64) is shorter than the others (padded to 128), so the
    step runs on the first rows of the stack's buffers: a layout PyTorch could hand to another kernel."""
    assert datasets[0].x_train.shape[0] % 100 == 36
    settings = TRAIN.model_copy(update={"batch_size": batch_size, "epochs": 4})
    company = [_spec(i) for i in range(5)]
    stacked = _trained(company, datasets, 0.2, activation, settings)
    for i in (0, 4):
        _assert_same(stacked[i], _trained([company[i]], datasets, 0.2, activation, settings)[0])


def test_members_stop_at_their_own_epochs(datasets):
    """The company above really does stop at different epochs, so leaving the stack is exercised."""
    company = [_spec(i) for i in range(17)]
    epochs = {len(history) for history, _ in _trained(company, datasets, 0.0)}
    assert len(epochs) > 1


def test_dropout_masks_follow_the_member_seed(datasets):
    """Dropout is on: two seeds of one loss differ; the same seed twice is identical."""
    a, b, c = _trained([("bce", 1, 0), ("bce", 2, 0), ("bce", 1, 0)], datasets, 0.5)
    _assert_same(a, c)
    assert a[0] != b[0]


@pytest.mark.parametrize("foreach", [True, False])
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_stacked_adam_is_torch_adam_bit_for_bit(foreach, weight_decay):
    """The same bits as torch.optim.Adam, including where a gradient is 0 and the second moment stays 0."""
    torch.manual_seed(0)
    start = torch.randn(3, 5, 4)
    ours, theirs = torch.nn.Parameter(start.clone()), torch.nn.Parameter(start.clone())
    mine = StackedAdam([ours], lr=0.01, weight_decay=weight_decay)
    reference = torch.optim.Adam([theirs], lr=0.01, weight_decay=weight_decay, foreach=foreach)
    for _ in range(50):
        grad = torch.randn(3, 5, 4)
        grad[0] = 0
        ours.grad, theirs.grad = grad.clone(), grad.clone()
        mine.step()
        reference.step()
    assert torch.equal(ours, theirs)


def test_stacked_adam_keeps_members():
    """Dropping a member leaves the others' updates as they were."""
    torch.manual_seed(0)
    grads = torch.randn(6, 4, 3, 2)
    full = torch.nn.Parameter(torch.zeros(4, 3, 2))
    opt_full = StackedAdam([full], lr=0.1)
    part = torch.nn.Parameter(torch.zeros(4, 3, 2))
    opt_part = StackedAdam([part], lr=0.1)
    for step in range(6):
        full.grad = grads[step].clone()
        opt_full.step()
        part.grad = grads[step].clone() if step <= 2 else grads[step][[0, 2, 3]].clone()
        opt_part.step()
        if step == 2:
            index = torch.tensor([0, 2, 3])
            part = torch.nn.Parameter(part.detach().index_select(0, index))
            opt_part.keep([part], index)
    assert torch.equal(part, full[[0, 2, 3]])


def test_stacked_mlp_equals_its_members():
    cfg = Config().model
    cfg.hidden = [16, 8]
    models = [build_model(5, cfg, seed=s) for s in range(4)]
    stack = StackedMLP(models).eval()
    x = torch.randn(4, 30, 5)
    with torch.no_grad():
        logits = stack(x)
        for m, model in enumerate(models):
            torch.testing.assert_close(logits[m], model.eval()(x[m]), rtol=1e-5, atol=1e-6)
            assert all(torch.equal(v, model.state_dict()[k]) for k, v in stack.member_state(m).items())


# ----------------------------------------------------------------------------------------------------------------
# End to end: run folders


def _config(seed: int, loss: str, **settings) -> Config:
    cfg = load_config(None, [f"seed={seed}", f"loss.name={loss}", "name=inv", "train.device=cpu"])
    cfg.data.n_samples, cfg.data.imbalance_ratio, cfg.data.cluster_std = 1200, 5, 6.0
    cfg.model.hidden, cfg.model.dropout = [8], 0.3
    cfg.train.epochs, cfg.train.patience, cfg.train.batch_size, cfg.train.lr = 8, 2, 64, 0.01
    for key, value in settings.items():
        setattr(cfg.loss, key, value)
    return cfg


def _folder(run_dir: Path) -> tuple[bytes, bytes, dict]:
    state = torch.load(io.BytesIO((run_dir / "model.pt").read_bytes()), weights_only=True)
    return (run_dir / "metrics.csv").read_bytes(), (run_dir / "history.csv").read_bytes(), state


def _assert_same_folder(a: Path, b: Path) -> None:
    (ma, ha, sa), (mb, hb, sb) = _folder(a), _folder(b)
    assert ma == mb and ha == hb
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.slow
def test_run_folders_equal_alone_in_a_sweep_and_after_a_resume(tmp_path):
    configs = [_config(seed, loss) for seed in (0, 1) for loss in ("bce", "auroc", "mcc", "f1")]
    assert len(units(configs)) == 1  # one stack, dropout and differing data seeds included
    alone = [execute_run(cfg, tmp_path / "alone").run_dir for cfg in configs]
    swept = execute(configs, tmp_path / "sweep")
    # A sweep killed after three runs, then resumed: the rest trains in another company.
    execute(configs[:3], tmp_path / "resumed")
    resumed = execute(configs, tmp_path / "resumed")
    assert sorted(r.status for r in resumed.reports).count("skipped") == 3
    for run_dir in alone:
        _assert_same_folder(run_dir, tmp_path / "sweep" / "inv" / run_dir.name)
        _assert_same_folder(run_dir, tmp_path / "resumed" / "inv" / run_dir.name)
    assert {r.run_dir.name for r in swept.reports} == {p.name for p in alone}


@pytest.mark.slow
def test_seeds_vary_the_split_unless_the_data_seed_is_pinned(tmp_path):
    import json

    follow = [_config(seed, "bce") for seed in (0, 1)]
    pinned = [_config(seed, "bce") for seed in (0, 1)]
    for cfg in pinned:
        cfg.data.seed = 7
    summary = execute(follow + pinned, tmp_path)
    infos = [json.loads((r.run_dir / "run.json").read_text()) for r in summary.reports]
    assert [info["data"]["seed"] for info in infos] == [0, 1, 7, 7]
    test_splits = []
    for cfg in follow + pinned:
        test_splits.append(prepare_data(cfg.resolved_data()).indices["test"])
    assert not np.array_equal(test_splits[0], test_splits[1])
    assert np.array_equal(test_splits[2], test_splits[3])
    metrics = [pd.read_csv(r.run_dir / "metrics.csv") for r in summary.reports]
    assert not metrics[0].equals(metrics[1])


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_the_step_without_autograd_trains_as_autograd_does(datasets, dropout, monkeypatch):
    """The CPU step (plan + closed-form loss gradients + Adam on the flat gradient) against the autograd step a
    GPU takes, both on CPU: every loss, members leaving the stack, a short last batch; the same bits."""
    from hfa import training

    settings = TRAIN.model_copy(update={"batch_size": 100})  # 336 rows: a last batch of 36
    company = [_spec(i) for i in range(len(LOSS_NAMES) + 2)]
    taped = _trained(company, datasets, dropout, settings=settings)
    monkeypatch.setattr(training, "_taped", lambda device: False)
    for got, expected in zip(_trained(company, datasets, dropout, settings=settings), taped, strict=True):
        _assert_same(got, expected)
