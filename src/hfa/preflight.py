"""Every check of a command before any work: the one path ``hfa train``, ``hfa sweep``, ``hfa.train`` and
``hfa.sweep`` share.

What it refuses (a one-line ``HfaError``) would otherwise surface after training started or never: the types of
the API's arguments, the options of the executor, the data sources (a missing file, an unknown named set, a target
column that is not there or holds lists, cells training refuses), the output places (a file in the way, a folder
hfa did not make, its locks folder or a run's folder taken by something else, names and paths too long for the file
system) and a tracking URI where nothing answers (a short connect timeout, not MLflow's minutes of retries).
"""

from __future__ import annotations

import functools
import json
import os
import socket
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hfa.config import Config, DataConfig
from hfa.errors import HfaError, clip, shorten

TRACKING_CONNECT_TIMEOUT_S = 5.0
_PORTS = {"http": 80, "https": 443, "postgresql": 5432, "mysql": 3306, "mssql": 1433}


def check(
    configs: Sequence[Config],
    out: Any,
    *,
    mlflow: Any = None,
    workers: Any = 1,
    executor: Any = "local",
    ray_address: Any = None,
) -> None:
    """Check a command's runs and options before any work; each problem a one-line ``HfaError``."""
    check_arguments(out=out, mlflow=mlflow, workers=workers, executor=executor, ray_address=ray_address)
    from hfa.sweep import check_options

    check_options(workers, executor, ray_address)
    names = sorted({cfg.name for cfg in configs})
    if len(names) > 1:
        raise HfaError(
            f"the runs of one command go to one experiment folder, and these name {', '.join(map(repr, names[:3]))}; "
            "'name' cannot be swept: run one sweep per name"
        )
    check_runs(configs, executor)
    uri = mlflow or (configs[0].tracking.mlflow if configs else None)
    if uri:
        check_tracking(uri)
    check_outputs(configs, out)


def check_runs(configs: Sequence[Config], executor: Any = "local") -> None:
    """What every run needs besides a place to go: its data (files, KEEL names) and its device, for every config
    of the command, so that no grid point fails after others trained (``hfa sweep``, ``hfa tune``)."""
    for data in _distinct_sources(configs):
        check_source(data)
    if executor == "local":  # a Ray cluster's workers may hold devices this machine lacks: they check their own
        from hfa.devices import resolve_device

        for spec in sorted({cfg.train.device for cfg in configs if cfg.model.name == "mlp"}):
            resolve_device(spec)


def check_arguments(**arguments: Any) -> dict[str, Any]:
    """The API's arguments as the command line's options take them: a path, a whole number, a name, a function, a
    list of names. Each NumPy scalar is taken as the Python value it holds; the arguments come back so (a list of
    names as a list), or the first wrong one is an ``HfaError`` naming it and what it allows. Every API entry point
    calls this first: a wrong argument stops the call before anything is read, trained or written."""
    from hfa.plain import scalar

    checked: dict[str, Any] = {}
    for name, value in arguments.items():
        kind, what = _KINDS[name]
        value = scalar(value)
        if kind in (_names, _some_names):  # a list of names comes back as a list, or is refused by the kind
            checked[name] = kind(name, value, what)
        elif kind(value):
            checked[name] = value
        else:
            raise HfaError(f"{name}={shorten(_shown(value))} ({type(value).__name__}) is not allowed; give {what}")
    return checked


def _path(value: Any) -> bool:
    if not isinstance(value, str | os.PathLike):
        return False
    text = os.fspath(value)
    return isinstance(text, str) and "\0" not in text and bool(text.strip())


def _uri(value: Any) -> bool:
    """None or text: an empty URI means the config's (``tracking.mlflow``), as no option does on the command line."""
    return value is None or (isinstance(value, str) and "\0" not in value)


def _whole(value: Any, optional: bool = False) -> bool:
    if value is None:
        return optional
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _text(value: Any, optional: bool = False) -> bool:
    if value is None:
        return optional
    return isinstance(value, str) and "\0" not in value and bool(value.strip())


def _names(name: str, value: Any, what: str, empty: bool = True) -> list[str] | None:
    """A single name or a list of names, as a list (None stays None: the default)."""
    from hfa.plain import scalar

    if value is None:
        return None
    items = [value] if isinstance(value, str) else None
    if items is None and isinstance(value, Iterable) and not isinstance(value, bytes | Mapping):
        items = [scalar(item) for item in value]
    if items is None or not all(_text(item) for item in items) or (not items and not empty):
        raise HfaError(f"{name}={shorten(_shown(value))} ({type(value).__name__}) is not allowed; give {what}")
    return items


def _some_names(name: str, value: Any, what: str) -> list[str] | None:
    return _names(name, value, what, empty=False)


_KINDS: dict[str, tuple[Callable[..., Any], str]] = {
    "out": (_path, "a folder path"),
    "runs_dir": (_path, "a folder path"),
    "mlflow": (_uri, "a tracking URI or None"),
    "workers": (_whole, "a whole number of at least 1"),
    "budget": (functools.partial(_whole, optional=True), "a whole number of at least 1, or None (the config's)"),
    "executor": (lambda value: isinstance(value, str) and value in ("local", "ray"), "'local' or 'ray'"),
    "ray_address": (_uri, "a Ray address or None"),
    "force": (lambda value: isinstance(value, bool), "true or false"),
    "on_epoch": (lambda value: value is None or callable(value), "a function of one argument, or None"),
    "on_report": (lambda value: value is None or callable(value), "a function of one argument, or None"),
    "split": (lambda value: isinstance(value, str) and value in ("val", "test"), "'val' or 'test'"),
    "baseline": (functools.partial(_text, optional=True), "a loss name, or None (no tests)"),
    "methods": (_names, "a method name or a list of the config's method names (none: every method)"),
    "by": (_some_names, "a key or a non-empty list of keys such as ['loss', 'data.name'], or None (the default)"),
    "metrics": (_some_names, "a metric or a non-empty list of metrics such as ['f1', 'mcc'], or None (the default)"),
    "rule": (_some_names, "a rule or a non-empty list of rules: fixed, tuned, tuned_f<beta>, mean"),
}


def _shown(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return repr(value)


def _distinct_sources(configs: Sequence[Config]) -> list[DataConfig]:
    """One data config per distinct source (file or named set, target, positive label, the columns it selects);
    generated data has no source to check."""
    from hfa.data.sources import parse_name

    sources: dict[str, DataConfig] = {}
    for cfg in configs:
        if parse_name(cfg.data.name)[0] in ("synthetic", "paper"):
            continue
        key = cfg.data.model_dump_json(include={"name", "target", "positive", "features", "drop", "id"})
        sources.setdefault(key, cfg.resolved_data())
    return list(sources.values())


def check_source(data: DataConfig) -> None:
    """Load the source's rows and check its features as training will (cached for named sets)."""
    from hfa.data.checks import check_features
    from hfa.data.sources import display_name, load_raw

    try:
        features, _ = load_raw(data)
    except OSError as exc:  # a symlink loop, a folder where the file should be, a vanished mount
        raise HfaError(f"data.name={clip(data.name)!r} cannot be read: {exc.strerror or exc}") from None
    check_features(features, display_name(data))


def check_tracking(uri: Any) -> None:
    """A tracking URI whose server answers within ``TRACKING_CONNECT_TIMEOUT_S``, then a store MLflow can use."""
    if not isinstance(uri, str):
        raise HfaError(f"--mlflow {shorten(_shown(uri))} is not a tracking URI")
    parts = urlsplit(uri)
    scheme = parts.scheme.split("+")[0].lower()
    if scheme in _PORTS and not parts.hostname:  # MLflow would try for minutes to reach nowhere
        raise HfaError(f"--mlflow {clip(uri)} names no host; give {scheme}://HOST:PORT, or sqlite:///mlflow.db")
    if scheme in _PORTS and parts.hostname:
        try:
            port = parts.port or _PORTS[scheme]
        except ValueError:
            raise HfaError(f"--mlflow {clip(uri)}: the port is not a number in 1..65535") from None
        reason = unreachable(parts.hostname, port, TRACKING_CONNECT_TIMEOUT_S)
        if reason is None and scheme in ("http", "https"):
            reason = silent(uri, TRACKING_CONNECT_TIMEOUT_S)
        if reason:
            raise HfaError(
                f"--mlflow {clip(uri)}: nothing answers at {parts.hostname}:{port} ({reason}; waited at most "
                f"{TRACKING_CONNECT_TIMEOUT_S:g} s); start the tracking server or pass another URI"
            )
    from hfa.tracking import client

    client(uri)


def silent(url: str, timeout: float) -> str | None:
    """Why no HTTP answer comes from ``url`` within ``timeout`` seconds, or None when one does (any status: a login
    page or a 404 is a server). A port that accepts and never answers (a proxy, a firewall) would leave MLflow's
    client retrying for minutes."""
    import ssl
    import urllib.error
    import urllib.request

    # MLflow's own switch for a server with a self-signed certificate; without it MLflow retries a refused one.
    insecure = os.environ.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() == "true"
    context = ssl._create_unverified_context() if insecure else None  # noqa: S323
    try:
        urllib.request.urlopen(urllib.request.Request(url, method="GET"), timeout=timeout, context=context).close()  # noqa: S310
    except urllib.error.HTTPError:
        return None  # it answered
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, ssl.SSLCertVerificationError):
            return (
                f"its certificate is not valid: {reason.verify_message}; MLflow would refuse it too (set "
                "MLFLOW_TRACKING_INSECURE_TLS=true to accept it)"
            )
        if isinstance(reason, ssl.SSLError):
            return None  # it speaks TLS
        return "no answer" if isinstance(reason, TimeoutError) else str(reason)
    return None


def unreachable(host: str, port: int, timeout: float) -> str | None:
    """Why nothing answers at ``host:port`` within ``timeout`` seconds, or None when something does: servers'
    clients retry for minutes without a word."""
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        return "timed out" if isinstance(exc, TimeoutError) else exc.strerror or type(exc).__name__
    return None


def check_outputs(configs: Sequence[Config], out: str | os.PathLike[str], study: Path | None = None) -> None:
    """Each experiment folder checked, created and claimed as hfa's, with room for every run's folder."""
    from hfa import rundir

    for name in sorted({cfg.name for cfg in configs}):
        ids = [rundir.run_dir_for(cfg, "").name for cfg in configs if cfg.name == name]
        try:
            rundir.check_output(Path(out) / name, ids, study=study)
        except OSError as exc:  # a symlink loop in --out, among others
            raise HfaError(f"--out {clip(str(out))} cannot be used: {exc.strerror or exc}") from None
