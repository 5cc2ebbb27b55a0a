"""Atomic file writes: a killed process leaves either the old file or the new one, never half of one."""

from __future__ import annotations

import json
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from hfa.errors import HfaError


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
        raise HfaError(f"{path} is not a regular file; hfa replaces only regular files: give another file name")


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
