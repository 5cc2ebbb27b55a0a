"""Where a sweep's units of work run: local worker processes or a Ray cluster, and how they are stopped.

``work(unit) -> list[report]`` is a picklable callable (a ``functools.partial`` of ``hfa.sweep.run_batch``).
Whatever ends a sweep early (Ctrl-C, SIGTERM turned into an exception by the CLI, a full disk, the parent's death)
ends the work it started: pool workers are terminated, Ray tasks cancelled and a Ray that hfa started shut down.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from multiprocessing import get_context
from typing import Any, TypeVar

from hfa.errors import HfaError, clip

Unit = TypeVar("Unit")
Report = TypeVar("Report")

# --------------------------------------------------------------------------------------------------------------
# Worker processes

PARENT_POLL_S = 0.5
"""How often a worker checks that the sweep that started it is alive; it exits within about this long of its end."""


def _worker_start(parent: int) -> None:
    """Initialiser of every pool worker: the parent alone answers Ctrl-C, and a worker never outlives it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops the workers and says what was finished

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(1)  # the parent died (even by SIGKILL): nobody would read this worker's results

    threading.Thread(target=watch, name="hfa-parent-watch", daemon=True).start()


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """End the pool's workers now, without waiting for a training to finish (the next sweep cleans its staging)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        if process.is_alive():
            process.terminate()
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.join(timeout=10)
        if process.is_alive():
            process.kill()


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Ctrl-C and SIGTERM acted on after the block, not inside it. Spawning a worker writes its start-up data down
    a pipe; an interrupt raised half-way through leaves a child, not yet known to the pool (so never stopped),
    reading half of it: an EOFError traceback after hfa's one line."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread sets handlers
        yield
        return
    caught: list[int] = []
    previous = {
        signum: signal.signal(signum, lambda s, _: caught.append(s)) for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if caught:
            signal.raise_signal(caught[0])  # to the handler in place again: KeyboardInterrupt, or hfa's Stopped


def in_processes(work: Callable[[Unit], Sequence[Report]], units: Iterable[Unit], workers: int) -> Iterator[Report]:
    """Run ``work`` on each unit in ``workers`` spawned processes; reports arrive as units finish."""
    # spawn, not fork: a forked child inherits torch's thread pools in an undefined state.
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=get_context("spawn"), initializer=_worker_start, initargs=(os.getpid(),)
    )
    try:
        with _signals_deferred():  # submit() spawns the workers
            futures: set[Future] = {pool.submit(work, unit) for unit in units}
        while futures:
            finished, futures = wait(futures, return_when=FIRST_COMPLETED)
            for future in finished:
                yield from future.result()
    except BaseException:  # an interrupt, a signal, a full disk, or the consumer stopped listening
        _stop_workers(pool)
        raise
    pool.shutdown(wait=True)


# --------------------------------------------------------------------------------------------------------------
# Ray

RAY_CONNECT_TIMEOUT_S = 10.0
"""How long hfa tries to reach a Ray address before giving up with a one-line error."""
_RAY_ADDRESS = re.compile(r"^(?:(?P<scheme>ray)://)?(?P<host>[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]):(?P<port>\d{1,5})$")


def ray_target(address: str | None) -> tuple[str | None, str]:
    """The Ray address to connect to (None: start a local Ray) and where it came from, checked for form."""
    source = "--ray-address"
    if address is None:
        address, source = os.environ.get("RAY_ADDRESS") or None, "$RAY_ADDRESS"
    if address is None or address in ("auto", "local"):
        return address, source
    match = _RAY_ADDRESS.match(address.strip())
    if not match or not 0 < int(match["port"]) < 65536:
        raise HfaError(
            f"{source}={clip(address)!r} is not a Ray address; allowed: HOST:PORT, ray://HOST:PORT, auto or local "
            "(unset it to start a local Ray)"
        )
    return address.strip(), source


def _check_reachable(address: str, source: str) -> None:
    """Fail in at most ``RAY_CONNECT_TIMEOUT_S`` when nothing listens at ``address`` (Ray itself would retry for
    minutes without a word)."""
    match = _RAY_ADDRESS.match(address)
    assert match is not None  # ray_target checked the form
    from hfa.preflight import unreachable

    reason = unreachable(match["host"].strip("[]"), int(match["port"]), RAY_CONNECT_TIMEOUT_S)
    if reason:
        raise HfaError(
            f"cannot reach the Ray cluster at {source}={address} ({reason}; hfa gives up after "
            f"{RAY_CONNECT_TIMEOUT_S:g} s); start it with 'ray start --head' or fix the address"
        )


def _call(work: Callable[[Unit], Sequence[Report]], unit: Unit) -> Sequence[Report]:
    return work(unit)


def on_ray(
    work: Callable[[Unit], Sequence[Report]], units: Iterable[Unit], workers: int, address: str | None
) -> Iterator[Report]:
    """Run ``work`` on each unit as a Ray task (one CPU each); a local Ray of ``workers`` CPUs when no address."""
    address, source = ray_target(address)
    if address not in (None, "auto", "local"):
        _check_reachable(address, source)
    try:
        import ray
    except ImportError:
        raise HfaError("--executor ray needs Ray: pip install 'hfa[ray]' (or pip install ray)") from None
    started_here = not ray.is_initialized()
    if started_here:
        init: dict[str, Any] = {"address": address} if address else {"num_cpus": workers}
        try:
            ray.init(**init, include_dashboard=False, log_to_driver=False, configure_logging=False)
        except ValueError as exc:  # ray:// without the client extra, among others
            raise HfaError(f"Ray refused {source}={address}: {clip(str(exc), 200)}") from None
        except ConnectionError as exc:
            raise HfaError(f"cannot connect to Ray at {source}={address}: {clip(str(exc), 200)}") from None
    try:
        remote = ray.remote(num_cpus=1)(_call)
        refs = [remote.remote(work, unit) for unit in units]
        try:
            while refs:
                # A timeout, so Ctrl-C and SIGTERM are answered between waits even if Ray's wait blocks in C++.
                ready, refs = ray.wait(refs, num_returns=1, timeout=1.0)
                for ref in ready:
                    yield from ray.get(ref)
        except BaseException:
            for ref in refs:
                ray.cancel(ref, force=True)
            raise
    finally:
        if started_here:
            ray.shutdown()
