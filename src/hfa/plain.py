"""What a caller hands the Python API, as the plain values a YAML config holds: the one normalisation at the API's
boundary (``hfa.train``, ``hfa.sweep``, ``hfa.tune``, their arguments, and ``HfaClassifier``'s parameters).

NumPy scalars and 0-d arrays become the Python scalar they hold (``.item()``): a grid built with ``np.logspace``,
a ``np.bool_`` flag or a DataFrame cell then means the number it prints as, whichever entry point it reaches.
Arrays and tuples become lists, mappings dicts whose keys must be text. The values themselves are left as given:
the config's own validation judges them, as it judges a YAML file's.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from hfa.errors import HfaError, clip


def scalar(value: Any) -> Any:
    """A NumPy scalar or 0-d array as the Python value it holds; anything else unchanged."""
    numpy = sys.modules.get("numpy")  # not imported means no NumPy value can exist: `import hfa` stays light
    if numpy is not None and (
        isinstance(value, numpy.generic) or (isinstance(value, numpy.ndarray) and value.ndim == 0)
    ):
        return value.item()
    return value


def plain(value: Any, where: str = "the config") -> Any:
    """``value`` with NumPy scalars as Python's, arrays and tuples as lists and mappings as dicts (``HfaError`` for
    a key that is not text, or a container that holds itself). ``where`` names the value in a message."""
    # A container shared by several branches is converted once (as YAML aliases are); kept alive with its result so
    # that its id is not reused by a later container.
    done: dict[int, tuple[Any, Any]] = {}
    open_: set[int] = set()

    def walk(item: Any, path: str) -> Any:
        item = scalar(item)
        numpy = sys.modules.get("numpy")
        if numpy is not None and isinstance(item, numpy.ndarray):
            return walk(item.tolist(), path)
        if not isinstance(item, Mapping | list | tuple):
            return item
        if id(item) in done:
            return done[id(item)][1]
        if id(item) in open_:
            raise HfaError(f"{where} holds itself{_at(path)}; give a tree of values (no cycles)")
        open_.add(id(item))
        if isinstance(item, Mapping):
            converted: Any = {_text_key(key, path, where): walk(sub, _join(path, key)) for key, sub in item.items()}
        else:
            converted = [walk(sub, path) for sub in item]
        open_.discard(id(item))
        done[id(item)] = (item, converted)
        return converted

    return walk(value, "")


def _text_key(key: Any, path: str, where: str) -> str:
    key = scalar(key)
    if not isinstance(key, str):
        example = "'epochs'" if path else "'train'"
        raise HfaError(
            f"key {clip(repr(key))} ({type(key).__name__}){_at(path)} in {where} is not allowed; keys are text, "
            f"e.g. {example}"
        )
    return key


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _at(path: str) -> str:
    return f" under {clip(path)!r}" if path else ""
