"""Where a file the user names may be written: the one check every user-named output file passes before any work
(``hfa report --out``, ``hfa report --plot`` and the figures hfa names after it, ``hfa predict --out``).

hfa writes a file into a temporary file beside it and renames that into place (``hfa.io.atomic_write``), so
whatever had the name is replaced. hfa writes and deletes only what it made, so ``check_out_file`` refuses, with a
one-line ``HfaError`` and before anything is read or computed:

- a path that exists and is not a regular file: a folder, a FIFO, a device, a socket; and a symbolic link, since the
  rename would replace the link itself, not write through it into the file it points to (name that file instead);
- the same file as an input of the command, through links and hard links;
- a path inside a run folder hfa wrote (at any depth), and an experiment folder's own entries (``results.csv``,
  ``.locks``, staging and temporary names): those hold only what hfa writes there;
- a file hfa derives from the user's name (``r-pr.png`` from ``--plot r.png``) that exists and carries no mark of
  hfa's (``FIGURE_MARK``): the user named only ``r.png``;
- a name longer than the file system takes (with the temporary name's extra bytes) or a path past its PATH_MAX;
- a folder where nothing can be created (a probe file, removed at once).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from hfa import io
from hfa.errors import HfaError, clip

FIGURE_MARK = "written by hfa report"
"""The text hfa puts in every figure it writes (a PNG text chunk, the PDF's and SVG's creator): a figure derived
from ``--plot`` that exists is replaced only when it carries this."""

TEMPORARY_EXTRA = len("..") + 8 + len(".tmp")  # hfa.io's temporary name: .<name>.<8 hex digits>.tmp
_MARK_WINDOW = 1 << 16  # bytes read from each end of a file to find the mark


def file_path(text: str | os.PathLike[str], option: str) -> Path:
    """``text`` as a path, refused where it names a folder by its trailing slash (``Path`` would drop the slash,
    and hfa would write a file of that name)."""
    if isinstance(text, str) and text.endswith(("/", os.sep)):
        raise HfaError(f"{option} {clip(text)} names a folder (it ends in '/'); give a file name")
    return Path(text)


def check_out_file(
    path: str | os.PathLike[str],
    option: str,
    *,
    inputs: Iterable[str | os.PathLike[str]] = (),
    derived: Iterable[str | os.PathLike[str]] = (),
) -> Path:
    """Raise a one-line ``HfaError`` unless ``path`` (named by the user with ``option``) and the files hfa names
    after it (``derived``) can be written without replacing anything hfa did not make; returns ``path``.

    ``path`` itself may replace a regular file (the user asked for it); a ``derived`` file only one hfa wrote.
    Creates nothing (a probe file in the nearest existing folder is removed at once).
    """
    path = file_path(path, option)
    named = f"{option} {clip(str(path))}"
    inputs = [Path(p) for p in inputs]
    existing = None
    for target, is_derived in [(path, False), *((Path(d), True) for d in derived)]:
        existing = _check_place(target, named)
        _check_existing(target, named, is_derived, inputs)
        _check_not_hfas(target, named)
    if existing is not None:
        _probe(existing, named)
    return path


def _check_place(target: Path, named: str) -> Path:
    """The folders above ``target`` and the lengths of its names; returns the nearest folder that exists."""
    if target.name in ("", ".", ".."):
        raise HfaError(f"{named} is not a file name; give a file name")
    existing, missing = io.nearest_folder(target, named)
    name_max = io.pathconf(existing, "PC_NAME_MAX", 255)
    parts = [p.name for p in reversed(missing)]
    for part in parts:
        if len(os.fsencode(part)) > name_max:
            raise HfaError(
                f"{named}: the folder name {clip(part, 40)!r} exceeds the file system's limit of {name_max} bytes; "
                "use a shorter name"
            )
    length = len(os.fsencode(target.name))
    if length + TEMPORARY_EXTRA > name_max:
        raise HfaError(
            f"{named}: the name {clip(target.name, 40)!r} is {length} bytes, and the file system takes names of "
            f"{name_max} bytes (hfa's temporary file adds {TEMPORARY_EXTRA}); use a name of at most "
            f"{name_max - TEMPORARY_EXTRA} bytes"
        )
    path_max = io.pathconf(existing, "PC_PATH_MAX", 4096)
    if len(os.fsencode(str(target.absolute()))) + TEMPORARY_EXTRA >= path_max:
        raise HfaError(f"{named}: the path exceeds the system's limit of {path_max} bytes; give a shorter path")
    return existing


def _check_existing(target: Path, named: str, is_derived: bool, inputs: list[Path]) -> None:
    """What is at ``target`` now: nothing, a regular file that may be replaced, or something hfa must not touch."""
    try:
        mode = os.lstat(target).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise HfaError(f"{named}: {clip(str(target))} cannot be examined: {exc.strerror or exc}") from None
    shown = clip(str(target))
    if stat.S_ISLNK(mode):
        raise HfaError(
            f"{named}: {shown} is a symbolic link (to {clip(os.readlink(target))}), which hfa would replace rather "
            "than write through: name the file it points to, or another file"
        )
    if not stat.S_ISREG(mode):
        raise HfaError(
            f"{named}: {shown} is {_kind(mode)}, not a regular file; hfa replaces only regular files: give another "
            "file name"
        )
    for source in inputs:
        if _same_file(target, source):
            raise HfaError(
                f"{named}: {shown} is the input file {clip(str(source))}; hfa does not overwrite its input: give "
                "another file name"
            )
    if is_derived and not marked(target):
        raise HfaError(
            f"{named}: {shown} exists and hfa did not write it (hfa names its other figures after the file given, "
            "and replaces only figures it wrote): move it away or give another file name"
        )


def _check_not_hfas(target: Path, named: str) -> None:
    """Refuse a place inside a run folder (at any depth) or among an experiment folder's own entries."""
    from hfa import rundir

    try:
        parent = target.parent.resolve()
    except (OSError, RuntimeError):
        return  # a loop: the probe reports it
    for folder in (parent, *parent.parents):
        what = rundir.folder_kind(folder)
        if what is not None and what != "an experiment folder":  # a file beside the runs is allowed, not their names
            shown = f"the run folder {clip(str(folder))}" if what == "a run folder" else f"{clip(str(folder))}, {what}"
            raise HfaError(f"{named} is inside {shown}, which holds only what hfa writes there: give a file outside it")
    if io.exists(parent) and (rundir.owned(parent) or (parent / rundir.LOCK_DIR).is_dir()):
        name = target.name
        if name in (rundir.RESULTS_FILE, rundir.LOCK_DIR) or rundir._OWNED.match(name) or rundir._TEMPORARY.match(name):
            raise HfaError(
                f"{named}: {name} in the experiment folder {clip(str(parent))} is hfa's own: give another file name"
            )


def _probe(folder: Path, named: str) -> None:
    """Create and remove a file in ``folder``: whether anything can be written there, before any work."""
    try:
        io.probe(folder)
    except OSError as exc:
        raise HfaError(
            f"{named}: nothing can be written in {clip(str(folder))} ({exc.strerror or type(exc).__name__}); "
            "give a file in a folder you can write to"
        ) from None


def marked(path: Path) -> bool:
    """Whether the file at ``path`` carries ``FIGURE_MARK`` (read from its first and last 64 KiB)."""
    needle = FIGURE_MARK.encode()
    try:
        with open(path, "rb") as file:
            head = file.read(_MARK_WINDOW)
            if needle in head:
                return True
            size = os.fstat(file.fileno()).st_size
            if size <= _MARK_WINDOW:
                return False
            file.seek(max(size - _MARK_WINDOW, _MARK_WINDOW - len(needle)))
            return needle in file.read()
    except OSError:
        return False


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False
