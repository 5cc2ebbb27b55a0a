"""The one place that knows a run folder: its layout, how it is written and replaced, when it is finished, its lock.

``<out>/<name>/<run-id>/`` holds ``RUN_FILES``. A folder is written whole into a hidden staging folder next to
it and renamed into place; an existing folder is first renamed aside, so a reader or a killed process never
meets a folder with some files missing. Staging and aside folders carry the host and process id that made them,
so a clean-up removes only what a dead process left behind.

hfa writes and deletes only what it made. The experiment folder ``<out>/<name>/`` carries a mark
(``.locks/owner.json``) from the moment hfa claims it (``claim``); a folder that holds anything else is refused.
A run folder is hfa's when its run.json names it (``is_run_folder``); a staging folder holds a mark from its first
moment, and the clean-up removes an entry only when its contents prove hfa made it (``_provably_ours``).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io as _bytes_io
import json
import os
import re
import shutil
import socket
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from hfa import io
from hfa.errors import HfaError, clip

if TYPE_CHECKING:  # torch and pandas arrive with the writers that need them
    import pandas as pd
    import torch

    from hfa.config import Config

CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.csv"
HISTORY_FILE = "history.csv"
MODEL_FILE = "model.pt"
PREPROCESSING_FILE = "preprocessing.json"
RUN_FILE = "run.json"
CURVES_FILE = "curves.csv"
RUN_FILES = (CONFIG_FILE, METRICS_FILE, HISTORY_FILE, CURVES_FILE, MODEL_FILE, PREPROCESSING_FILE, RUN_FILE)
"""What a finished run folder holds (a multi-label run: all but curves.csv); a failed run holds only config.yaml
and run.json."""
FILES_KEY = "files"
"""run.json's map of every other file of the folder to the sha256 of the bytes written (``verify_files``)."""
FORMAT_KEY, RUN_FORMAT = "format", 2  # run.json's layout: 2 records the files' sha256s (FILES_KEY)

RESULTS_FILE = "results.csv"  # an experiment's table (hfa.results writes it)
STUDY_FILE = "tune.journal"  # a tune study's folder holds it (hfa.tune)
LOCK_DIR = ".locks"  # per-run lock files, in the experiment folder beside the runs
OWNER_FILE = "owner.json"  # in LOCK_DIR: this experiment folder is hfa's
STAGING_MARK = ".hfa-staging"  # the first file of a staging folder, removed just before it is renamed into place
_MARK_TEXT = "written by hfa; the folder around it is hfa's to write and clean up\n"
_STAGING, _ASIDE = "staging", "old"
_OWNED = re.compile(
    rf"^\.(?P<run>.+)\.(?P<kind>{_STAGING}|{_ASIDE})\.(?P<host>[A-Za-z0-9-]+)\.(?P<pid>\d+)\.[0-9a-f]+$"
)
_TEMPORARY = re.compile(r"^\.(hfa-write-check\.[0-9a-f]{8}|.+\.[0-9a-f]{8}\.tmp)$")  # hfa.io's probe, temporaries
_HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:32] or "host"


def run_dir_for(cfg: Config, out: str | Path) -> Path:
    from hfa.config import run_id

    return Path(out) / cfg.name / run_id(cfg)


def run_config(cfg: Config) -> dict[str, Any]:
    """What a run records as its config: the canonical resolved config of this one run (see ``config.canonical``)."""
    from hfa.config import canonical

    return canonical(cfg)


# --------------------------------------------------------------------------------------------------------------
# Writing


def write_run(
    run_dir: Path,
    cfg: Config,
    info: dict[str, Any],
    metrics: pd.DataFrame | None = None,
    history: pd.DataFrame | None = None,
    model: torch.nn.Module | None = None,
    preprocessing: dict[str, Any] | None = None,
    curves: pd.DataFrame | None = None,
) -> bool:
    """Write every file into a staging folder beside ``run_dir``, then swap it in (under the run's lock).

    On any error (a full disk included) the staging folder is removed and ``run_dir`` is left as it was. A folder
    hfa did not write is never replaced (an ``HfaError``), and a finished run is replaced only by a finished one:
    a failure beside it is not written (returns False).
    """
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    claim(run_dir.parent)
    with lock(run_dir):
        check_replaceable(run_dir)
        if info.get("status") != "ok" and completed(run_dir):
            return False
        staging = io.create_unique(run_dir.parent, _owned_prefix(run_dir, _STAGING), "", directory=True)
        try:
            (staging / STAGING_MARK).write_text(_MARK_TEXT, encoding="utf-8")
            digests: dict[str, str] = {}

            def put(name: str, data: bytes) -> None:  # written and hashed once, the same bytes
                io.write_bytes(staging / name, data)
                digests[name] = hashlib.sha256(data).hexdigest()

            put(CONFIG_FILE, io.yaml_text(run_config(cfg)).encode("utf-8"))
            if metrics is not None:
                put(METRICS_FILE, io.csv_text(metrics).encode("utf-8"))
            if history is not None:
                put(HISTORY_FILE, io.csv_text(history).encode("utf-8"))
            if curves is not None:  # confusion counts along the score range: PR curves, any metric at any rule
                put(CURVES_FILE, io.csv_text(curves).encode("utf-8"))
            if model is not None:
                put(MODEL_FILE, _model_bytes(model))
            if preprocessing is not None:
                put(PREPROCESSING_FILE, io.json_text(preprocessing).encode("utf-8"))
            io.write_json(staging / RUN_FILE, {**info, FORMAT_KEY: RUN_FORMAT, FILES_KEY: digests})
            (staging / STAGING_MARK).unlink()  # from here run.json proves the folder is hfa's
            _replace(staging, run_dir)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return True


def _model_bytes(model: torch.nn.Module) -> bytes:
    import torch

    # Serialised in memory, then written by Python: torch.save straight to a file reports a full disk as
    # "basic_ios::clear" (a RuntimeError); a plain write raises OSError(ENOSPC) like every other file.
    buffer = _bytes_io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, buffer)
    return buffer.getvalue()


def _replace(staging: Path, run_dir: Path) -> None:
    """Rename the old folder aside, the new one in, then delete the old one: ``run_dir`` is never half there."""
    aside = None
    if run_dir.exists():
        # An empty placeholder reserves a unique name; rename(2) may replace an empty folder.
        aside = io.create_unique(run_dir.parent, _owned_prefix(run_dir, _ASIDE), "", directory=True)
        os.rename(run_dir, aside)
    try:
        os.rename(staging, run_dir)
    except BaseException:
        if aside is not None:
            os.rename(aside, run_dir)
        raise
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


def _owned_prefix(run_dir: Path, kind: str) -> str:
    return f".{run_dir.name}.{kind}.{_HOST}.{os.getpid()}."


def swapped_run(aside: Path) -> Path | None:
    """The run folder an aside folder (the old copy a swap renames away) belongs to, or None for another entry."""
    match = _OWNED.match(aside.name)
    return aside.parent / match["run"] if match and match["kind"] == _ASIDE else None


def longest_entry_name(run_id: str) -> int:
    """Length of the longest name this module creates for a run (its staging folder)."""
    return len(_owned_prefix(Path(run_id), _STAGING)) + 8


def clean_staging(root: Path) -> list[Path]:
    """Remove the staging and aside folders that dead processes on this host left under ``root``.

    A live process's folders, and folders of other hosts (whose processes cannot be asked), are kept; so is any
    entry whose name fits the pattern but whose contents do not prove hfa made it (see ``_provably_ours``).
    """
    removed: list[Path] = []
    if not root.is_dir() or not owned(root):
        return removed
    for entry in root.iterdir():
        match = _OWNED.match(entry.name)
        if not match or match["host"] != _HOST or _alive(int(match["pid"])) or not _provably_ours(entry, match):
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed


def _provably_ours(entry: Path, match: re.Match[str]) -> bool:
    """An entry hfa made: a real folder holding only plain files of a run folder, and either empty (a placeholder),
    marked as staging from its first moment, or holding the run.json of the run its name names."""
    if entry.is_symlink() or not entry.is_dir():
        return False
    try:
        children = list(entry.iterdir())
    except OSError:
        return False
    allowed = {*RUN_FILES, STAGING_MARK}
    if any(c.name not in allowed or c.is_symlink() or not c.is_file() for c in children):
        return False
    names = {c.name for c in children}
    if not names:
        return True
    if STAGING_MARK in names:
        return _read_text(entry / STAGING_MARK) == _MARK_TEXT
    return _run_id_of(entry) == match["run"]


def _read_text(path: Path) -> str | None:
    """The text of a file hfa may have written, or None where it cannot be (missing, not UTF-8, not a regular
    file: a FIFO there must not block the command)."""
    try:
        return io.read_regular(path).decode("utf-8")
    except (OSError, UnicodeDecodeError, HfaError):
        return None


def _run_info(folder: Path) -> dict[str, Any] | None:
    """folder/run.json as an object, or None where there is no readable one."""
    text = _read_text(folder / RUN_FILE)
    try:
        info = json.loads(text) if text is not None else None
    except (ValueError, RecursionError):  # not JSON, or nested deeper than the parser goes: not a run.json of hfa's
        return None
    return info if isinstance(info, dict) else None


def holds_run(folder: Path) -> bool:
    """Whether ``folder`` holds a run.json of hfa's (a status), under whatever name: a copied or renamed run folder
    is no place for other files either."""
    info = _run_info(folder)
    return info is not None and "status" in info


def _run_id_of(folder: Path) -> str | None:
    return (_run_info(folder) or {}).get("run_id")


def is_run_folder(folder: Path) -> bool:
    """A run folder hfa wrote: a real folder whose run.json has a status and, where it names its run, names this
    folder; or, its run.json lost, one holding nothing but a run folder's files and a config.yaml of this
    experiment's name."""
    if folder.is_symlink() or not folder.is_dir():
        return False
    info = _run_info(folder)
    if info is not None:
        return "status" in info and info.get("run_id", folder.name) == folder.name
    try:
        children = list(folder.iterdir())
    except OSError:
        return False
    if not all(c.name in RUN_FILES and c.is_file() and not c.is_symlink() for c in children):
        return False
    try:
        from hfa.config import load_yaml

        config = load_yaml(_read_text(folder / CONFIG_FILE) or "")
    except Exception:  # any text that is not this run's YAML config
        return False
    return isinstance(config, dict) and config.get("name") == folder.parent.name


def check_replaceable(run_dir: Path) -> None:
    """Raise a one-line ``HfaError`` when ``run_dir`` exists but is not a run folder hfa wrote (a file, a link, a
    user's folder), or is one that holds an entry hfa did not write there (a user's notes, a link): replacing it (a
    retrain, ``--force``, new data) would delete that with the old folder. hfa replaces only what is all its own."""
    empty = run_dir.is_dir() and not run_dir.is_symlink() and not any(run_dir.iterdir())  # nothing to lose
    if (run_dir.exists() or run_dir.is_symlink()) and not (is_run_folder(run_dir) or empty):
        what = "a file" if run_dir.is_file() else ("a link" if run_dir.is_symlink() else "a folder hfa did not write")
        raise HfaError(
            f"{clip(str(run_dir))} is {what}, where this run's folder goes; hfa replaces only run folders it wrote: "
            "move it away or pass another --out"
        )
    if not run_dir.is_dir() or run_dir.is_symlink():
        return
    foreign = sorted(c.name for c in run_dir.iterdir() if c.name not in RUN_FILES or c.is_symlink() or not c.is_file())
    if foreign:
        more = f" ({len(foreign)} in all)" if len(foreign) > 3 else ""
        raise HfaError(
            f"{clip(str(run_dir))} holds {', '.join(map(repr, foreign[:3]))}{more}, which hfa did not write; hfa "
            "replaces a run folder whole when it trains the run again: move them out of it first"
        )


def folder_kind(place: Path, study: Path | None = None) -> str | None:
    """What of hfa's ``place`` is, in words (a run folder, hfa's locks, a tune study's folder, an experiment folder),
    or None: the one test of every check that keeps what hfa writes out of hfa's own folders. ``study`` is a study
    folder not counted (the tune writing its own trials and final runs)."""
    journal = place / STUDY_FILE
    if (journal.exists() or journal.is_symlink()) and (
        study is None or Path(os.path.realpath(place)) != Path(os.path.realpath(study))
    ):
        return "a tune study's folder"
    if is_run_folder(place) or holds_run(place):
        return "a run folder"
    if place.name == LOCK_DIR and owned(place.parent):
        return "hfa's locks"
    return "an experiment folder" if owned(place) else None


def check_not_inside_hfas(folder: Path, option: str, study: Path | None = None) -> None:
    """``folder`` (OUT/<name>) must not lie inside a run folder, a locks folder, another experiment folder or a tune
    study's folder: runs written there would become entries hfa did not write in a folder of its own (the next
    retrain or ``--force`` of it would refuse them), or a study's report would count them as its own."""
    for above in [folder.absolute().parent, *folder.absolute().parent.parents]:
        for place in dict.fromkeys((above, Path(os.path.realpath(above)))):
            what = folder_kind(place, study) if place.is_dir() else None
            if what is not None:
                raise HfaError(
                    f"{option} {clip(str(folder.parent))} lies inside {what} ({clip(str(place), 60)}); runs go beside "
                    "experiment folders, not into them: pass the folder that holds the experiment folders"
                )


# --------------------------------------------------------------------------------------------------------------
# Whose folder


def claim(folder: Path, option: str = "--out", mark: bool = True) -> None:
    """Mark ``folder`` (an experiment folder, created if missing) as hfa's, or raise a one-line ``HfaError`` when it
    holds anything hfa did not make there: hfa then writes nothing into it. ``mark=False`` only checks.

    A folder an older hfa wrote (run folders, results.csv, locks, staging, nothing else) is claimed as it stands.
    """
    mark = folder / LOCK_DIR / OWNER_FILE
    if _read_text(mark) == _MARK_TEXT:
        return
    if folder.is_dir():
        entries = sorted(folder.iterdir())
        # A results.csv alone may be anyone's table; beside run folders or locks it is the one hfa rebuilt.
        runs = any(e.name == LOCK_DIR or is_run_folder(e) for e in entries)
        foreign = [e.name for e in entries if not (_made_by_hfa(e) and (runs or e.name != RESULTS_FILE))]
        if foreign:
            shown = ", ".join(repr(clip(n, 40)) for n in foreign[:3]) + (
                f" and {len(foreign) - 3} more" * (len(foreign) > 3)
            )
            raise HfaError(
                f"{option} {clip(str(folder))} holds {shown}, which hfa did not write; hfa writes only into folders "
                "it made: pass another --out or name"
            )
    if not mark:
        return
    (folder / LOCK_DIR).mkdir(parents=True, exist_ok=True)
    io.write_text(mark, _MARK_TEXT)


def owned(folder: Path) -> bool:
    """Whether ``folder`` carries hfa's mark (see ``claim``)."""
    return _read_text(folder / LOCK_DIR / OWNER_FILE) == _MARK_TEXT


def _made_by_hfa(entry: Path) -> bool:
    if entry.name == LOCK_DIR:
        return entry.is_dir() and not entry.is_symlink()
    if entry.name == RESULTS_FILE:  # rebuilt from the run folders; hfa's where they are
        return entry.is_file() and not entry.is_symlink()
    if _OWNED.match(entry.name) or _TEMPORARY.match(entry.name):
        return True  # hfa's names; the clean-up still proves the contents before it deletes
    return is_run_folder(entry)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


# --------------------------------------------------------------------------------------------------------------
# Reading


def run_json_problem(info: Mapping[str, Any]) -> str | None:
    """What is wrong with the shape of a run.json's sections that readers go into (``data``, ``data.source``,
    ``timings``, ``files``: mappings as hfa writes them), or None."""
    data = info.get("data")
    source = data.get("source") if isinstance(data, Mapping) else None
    for key, value in (
        ("data", data),
        ("data.source", source),
        ("timings", info.get("timings")),
        ("files", info.get("files")),
    ):
        if value is not None and not isinstance(value, Mapping):
            return f"{key!r} holds {type(value).__name__}, not the mapping hfa writes"
    return None


def completed(run_dir: Path) -> bool:
    """A finished run: run.json says ok and every file of ``RUN_FILES`` is present (curves.csv: single-label)."""
    try:
        info = json.loads(io.read_regular(run_dir / RUN_FILE).decode("utf-8"))
    except (OSError, ValueError, RecursionError):  # HfaError is a ValueError
        return False
    if not (isinstance(info, dict) and info.get("status") == "ok") or run_json_problem(info) is not None:
        return False  # (a run.json edited out of shape is not a finished run: training it again replaces it)
    multilabel = bool((info.get("data") or {}).get("labels")) if isinstance(info.get("data"), dict) else False
    needed = [name for name in RUN_FILES if not (multilabel and name == CURVES_FILE)]
    return all((run_dir / name).is_file() for name in needed)


_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def verify_files(run_dir: Path, info: dict[str, Any], needed: Iterable[str] = ()) -> dict[str, bytes]:
    """The bytes of every file run.json's ``files`` names, each checked against the sha256 recorded when the run
    was written; a file changed, missing or a malformed ``files`` is a one-line ``HfaError`` naming it. Where
    ``files`` is there it must list every one of ``needed`` (the files the caller reads): a ``files`` emptied or cut
    down by hand would otherwise switch the check off for what it leaves out.

    A run written before hashes were recorded (no ``files``, no ``format``) gives ``{}``: its readers' own checks
    are all there is. run.json is where the check starts: an edit to it is caught only where it contradicts itself
    (a ``format`` 2 without ``files``); deleting both makes any run look older.
    Reports do not call this (they read metrics, not weights, over thousands of runs); ``hfa predict`` does.
    """
    recorded = info.get(FILES_KEY)
    where = f"{run_dir / RUN_FILE}: {FILES_KEY!r}"
    if recorded is None:
        written = info.get(FORMAT_KEY, 1)
        if written != 1:  # a run.json that says it lists its files, and lists none, was edited
            raise HfaError(
                f"{where} is missing, and {RUN_FILE} says its run recorded its files' sha256s (format "
                f"{clip(str(written), 20)}): it was edited by hand; train the run again"
            )
        return {}
    if not isinstance(recorded, dict):
        raise HfaError(
            f"{where} must map file names to sha256 digests (got {type(recorded).__name__}); train the run again"
        )
    allowed = [name for name in RUN_FILES if name != RUN_FILE]
    unlisted = [name for name in needed if name not in recorded]
    if unlisted:
        raise HfaError(
            f"{where} lists no sha256 for {', '.join(unlisted)}, which every run writes: it was edited by hand; "
            "train the run again"
        )
    contents: dict[str, bytes] = {}
    for name, digest in recorded.items():
        if name not in allowed or not isinstance(digest, str) or not _SHA256.match(digest):
            raise HfaError(
                f"{where} holds {clip(str(name), 40)!r}: {clip(str(digest), 70)!r}; expected names among "
                f"{', '.join(allowed)}, each with a sha256 digest (64 hex digits); train the run again"
            )
        path = run_dir / name
        try:
            data = io.read_regular(path)
        except OSError as error:
            reason = "it is missing" if not path.exists() else (error.strerror or type(error).__name__)
            raise HfaError(f"cannot read {path}: {reason}; run.json lists it: train the run again") from None
        if hashlib.sha256(data).hexdigest() != digest:
            raise HfaError(
                f"{path} was changed after the run was written (its sha256 differs from {RUN_FILE}'s); "
                "train the run again"
            )
        contents[name] = data
    return contents


def data_fingerprint_of(run_dir: Path) -> str | None:
    """The fingerprint of the data a run saw (run.json ``data.fingerprint``), None where it recorded none."""
    data = (_run_info(run_dir) or {}).get("data")
    fingerprint = data.get("fingerprint") if isinstance(data, dict) else None
    return fingerprint if isinstance(fingerprint, str) else None


# --------------------------------------------------------------------------------------------------------------
# Locks

_held: dict[Path, Any] = {}


@contextlib.contextmanager
def lock(run_dir: Path, blocking: bool = True) -> Iterator[bool]:
    """Hold the run's lock (yields True), or yield False at once when ``blocking`` is off and another holds it.

    The lock is an OS file lock, so it dies with its process; within one process it is re-entrant.
    """
    from filelock import FileLock, Timeout

    path = _lock_path(run_dir).absolute()
    path.parent.mkdir(parents=True, exist_ok=True)
    file_lock = _held.setdefault(path, FileLock(path, thread_local=False))
    try:
        file_lock.acquire(blocking=blocking)
    except Timeout:
        yield False
        return
    try:
        yield True
    finally:
        file_lock.release()


def _lock_path(run_dir: Path) -> Path:
    return run_dir.parent / LOCK_DIR / f"{run_dir.name}.lock"


def wait_for_swap(run_dir: Path) -> None:
    """Return once no other process is swapping ``run_dir`` in (at once where no hfa process ever locked it)."""
    if _lock_path(run_dir).is_file():
        with contextlib.suppress(OSError), lock(run_dir):
            pass


_T = TypeVar("_T")


def read_settled(run_dir: Path, read: Callable[[], _T]) -> _T:
    """``read()`` the run's files; when that fails while another process swaps the folder in (``--force``), once
    more under the run's lock, after the swap.

    A swap renames the old folder aside and the new one in, so a reader can find the folder gone, or open a file of
    one folder and the next of the other. The lock is taken only on a failed read: reports over thousands of runs
    (or a read-only copy, where no lock can be made) pay nothing for it.
    """
    try:
        return read()
    except HfaError as error:
        if not _lock_path(run_dir).is_file():
            raise  # no hfa process ever wrote this run here: the failure is the folder's own
        first = error
    try:
        with lock(run_dir):
            return read()
    except OSError:  # the lock cannot be taken (a read-only copy): the folder is as it is
        raise first from None


@contextlib.contextmanager
def locks(run_dirs: Iterable[Path], blocking: bool = False) -> Iterator[list[Path]]:
    """Hold the locks of those of ``run_dirs`` that no other process holds; yields the ones held."""
    with contextlib.ExitStack() as stack:
        yield [d for d in run_dirs if stack.enter_context(lock(d, blocking=blocking))]


# --------------------------------------------------------------------------------------------------------------
# Where runs may go


def check_output(
    folder: Path, entry_names: Iterable[str] = (), option: str = "--out", study: Path | None = None
) -> None:
    """Make sure runs can be written under ``folder`` before any training starts, creating nothing.

    ``entry_names`` are the run ids that will be created there. Raises a one-line ``HfaError`` when a part of the
    path is a file, a name or a path is longer than the file system allows, the folder holds what hfa did not
    write, its locks folder or a run's folder is taken by something else, or it cannot be created or written.
    The probe is made in the nearest folder that exists (and removed), so a command refused by a later check
    leaves no empty ``OUT/<name>/`` behind; the run's own writes create the folders and claim them (``claim``).
    """
    folder = Path(folder)
    names = list(entry_names)
    existing, _ = io.nearest_folder(folder, f"{option} {clip(str(folder))}", include_self=True)
    limit = io.pathconf(existing, "PC_NAME_MAX", 255)
    longest = max((longest_entry_name(name) for name in names), default=0)
    too_long = [part for part in folder.relative_to(existing).parts if len(os.fsencode(part)) > limit]
    if too_long or longest > limit:
        what = f"the name {clip(too_long[0], 40)!r}" if too_long else f"run folder names of {longest} characters"
        raise HfaError(
            f"{option} {clip(str(folder))}: {what} exceeds the file system's limit of {limit} bytes; use a shorter name"
        )
    # The deepest path written: a staging folder's file (or the locks folder's).
    deepest = max([longest_entry_name(name) + 1 + max(map(len, RUN_FILES)) for name in names] + [64])
    path_max = io.pathconf(existing, "PC_PATH_MAX", 4096)
    if len(os.fsencode(str(folder.absolute()))) + 1 + deepest >= path_max:
        raise HfaError(
            f"{option} {clip(str(folder))}: paths of run files there would exceed the system's limit of {path_max} "
            "bytes; pass a shorter --out"
        )
    check_not_inside_hfas(folder, option, study)
    locks_dir = folder / LOCK_DIR
    if (locks_dir.exists() or locks_dir.is_symlink()) and (locks_dir.is_symlink() or not locks_dir.is_dir()):
        raise HfaError(f"{option} {clip(str(folder))}: {LOCK_DIR} there is not a folder hfa made; move it away")
    # What hfa opens or replaces there must be what it wrote: regular files (a FIFO would block, a link be followed).
    shared = [folder / RESULTS_FILE] + (sorted(locks_dir.iterdir()) if locks_dir.is_dir() else [])
    odd = next(
        (e for e in shared if e.is_symlink() and e.parent == locks_dir or (e.exists() and not e.is_file())), None
    )
    if odd is not None:
        what = "a link" if odd.is_symlink() else ("a folder" if odd.is_dir() else "a special file (FIFO, device)")
        raise HfaError(
            f"{option} {clip(str(folder))}: {clip(str(odd.relative_to(folder)), 60)} there is {what}, not a file hfa "
            "wrote; move it away"
        )
    try:
        if folder.is_dir():
            claim(folder, option, mark=False)
            for name in names:
                check_replaceable(folder / name)
        io.probe(existing)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            reason += " (pass a folder you can write to)"
        raise HfaError(f"{option} {clip(str(folder))} is not writable: {reason}") from None
