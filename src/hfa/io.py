"""Atomic file writes: a killed process leaves either the old file or the new one, never half of one."""

from __future__ import annotations

import errno
import json
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from hfa.errors import HfaError, clip


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` on a temporary file next to ``path``, then rename it into place.

    The rename is atomic on POSIX and Windows when both paths are on the same file system, which a
    sibling temporary file guarantees.
    """
    path = Path(path)
    _refuse_special(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = create_unique(path.parent, f".{path.name}.", ".tmp", directory=False)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _refuse_special(path: Path) -> None:
    """The rename would replace a folder, a FIFO, a device or a socket with a file: refuse (``hfa.outfile`` checks
    user-named files with reasons before any work; this is the last guard of every write)."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return
    if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        raise HfaError(
            f"{path} is not a regular file; hfa replaces only regular files: move it away, or give another name"
        )


def read_regular(path: str | Path) -> bytes:
    """The bytes of a file hfa wrote itself (a run's, an experiment's, a study's), refusing in one line whatever
    is not a regular file: a FIFO would block the command for ever and ``/dev/zero`` fill the memory, and hfa
    writes neither. A link to a regular file is read; the check is on the file opened, so nothing can swap in
    between. A missing file raises ``FileNotFoundError`` for the caller to word."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)  # opening a FIFO without a writer must not wait
    fd = os.open(path, flags)
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise HfaError(
            f"{clip(str(path))} is {_kind(mode)}, not a regular file as hfa writes it: was it replaced by hand? "
            "move it away (hfa writes its own again)"
        )
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


def missing_file(path: str | Path) -> str:
    """Why ``path`` is not a regular file to read, in a few words: it does not exist, is a folder, a FIFO, a
    device, a link to nowhere or a loop of links."""
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "is a loop of symbolic links"
        return "is a link to nothing" if path.is_symlink() else "does not exist"
    return f"is {_kind(mode)}, not a file"


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a special file"


def create_unique(parent: Path, prefix: str, suffix: str, directory: bool) -> Path:
    """Create a new, empty file or folder ``parent/<prefix><random><suffix>`` that honours the umask.

    ``tempfile.mkstemp``/``mkdtemp`` create 0600/0700 entries, which renamed into place leave results unreadable
    to the colleagues a shared file system is for.
    """
    for _ in range(100):
        candidate = parent / f"{prefix}{secrets.token_hex(4)}{suffix}"
        try:
            if directory:
                candidate.mkdir(mode=0o777)
            else:
                os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"no unused temporary name {prefix}*{suffix} in {parent}")


def probe(folder: Path) -> None:
    """Create and remove a file in ``folder``: raises ``OSError`` where nothing can be written there."""
    create_unique(folder, ".hfa-write-check.", "", directory=False).unlink()


def write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic_write(path, lambda p: p.write_bytes(data))


def write_text(path: str | Path, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


# The texts of the files hfa writes, as functions: a run folder hashes the very bytes it writes (hfa.rundir).


def json_text(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n"


# libyaml's emitter where PyYAML has it: the same text as yaml.safe_dump, ~4x faster (a sweep writes a config a run).
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def yaml_text(obj: Any) -> str:
    return yaml.dump(obj, Dumper=_DUMPER, sort_keys=False)


def csv_text(frame: pd.DataFrame) -> str:
    """The CSV text ``frame.to_csv(path, index=False)`` writes ("\\n" line ends on every system)."""
    return frame.to_csv(index=False, lineterminator="\n")


def write_json(path: str | Path, obj: Any) -> Path:
    return write_text(path, json_text(obj))


def write_yaml(path: str | Path, obj: Any) -> Path:
    return write_text(path, yaml_text(obj))


def write_csv(path: str | Path, frame: pd.DataFrame) -> Path:
    return write_text(path, csv_text(frame))


def exists(path: Path) -> bool:
    """``path.exists()``, False where the name cannot even be looked up (too long, among others: the length checks
    say so)."""
    try:
        return path.exists()
    except OSError:
        return False


def pathconf(folder: Path, name: str, default: int) -> int:
    """``os.pathconf``, or ``default`` where the file system does not say (NAME_MAX 255, PATH_MAX 4096)."""
    try:
        return os.pathconf(folder, name)
    except (OSError, ValueError):
        return default


def is_link(path: Path) -> bool:
    try:
        return path.is_symlink()
    except OSError:
        return False


def nearest_folder(path: Path, named: str, include_self: bool = False) -> tuple[Path, list[Path]]:
    """The nearest folder that exists above ``path`` (or at it, with ``include_self``) and the entries between them
    that writing there would create, nearest first. A file in the way, or a link there that leads nowhere, is a
    one-line ``HfaError`` opening with ``named`` (the option and the path the user gave)."""
    chain = [path, *path.parents] if include_self else list(path.parents)
    existing = next((p for p in chain if exists(p)), Path("/"))
    if not existing.is_dir():
        raise HfaError(f"{named}: {clip(str(existing))} is a file, not a folder; give a path in a folder")
    missing = chain[: chain.index(existing)] if existing in chain else []
    dangling = [p for p in missing if is_link(p)]
    if dangling:
        raise HfaError(
            f"{named}: {clip(str(dangling[0]))} is a symbolic link that leads nowhere (or to itself); give a path "
            "in a folder"
        )
    return existing, missing
