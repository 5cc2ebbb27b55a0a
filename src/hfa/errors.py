"""The one exception type that means "the user gave something wrong".

The CLI turns it into exit status 2 and a single line; anything else is a bug and keeps its traceback.
"""


class HfaError(ValueError):
    """Invalid user input: a config file, key, value, data set, override or path.

    The message is one line that names what is wrong and what is allowed.
    """


SHOWN_CHARACTERS = 80


def shorten(value: object, limit: int = SHOWN_CHARACTERS) -> str:
    """``value`` as JSON-like text of at most about ``limit`` characters, for an error message.

    Only as much of a nested value is visited as is shown, so a value built by YAML aliases (shared sub-lists
    that expand to billions of items) costs no more to show than a short one.
    """
    parts: list[str] = []
    budget = [limit]

    def emit(text: str) -> bool:
        parts.append(text[: max(budget[0], 0)])
        budget[0] -= len(text)
        return budget[0] > 0

    def walk(item: object) -> bool:
        if isinstance(item, dict):
            pairs = [(repr(str(k)).replace("'", '"') + ": ", v) for k, v in item.items()]
            return _walk_items(pairs, "{", "}", emit, walk)
        if isinstance(item, list | tuple):
            return _walk_items([("", v) for v in item], "[", "]", emit, walk)
        if isinstance(item, str):
            return emit('"' + item[: budget[0] + 1] + '"')
        if isinstance(item, bool) or item is None:
            return emit({True: "true", False: "false", None: "null"}[item])
        return emit(str(item))

    walk(value)
    text = "".join(parts)
    return text if budget[0] >= 0 else text + "…"


def _walk_items(pairs, opening, closing, emit, walk) -> bool:
    if not emit(opening):
        return False
    for index, (prefix, value) in enumerate(pairs):
        if (index and not emit(", ")) or not emit(prefix) or not walk(value):
            return False
    return emit(closing)


def clip(text: str, limit: int = SHOWN_CHARACTERS) -> str:
    """``text`` cut to ``limit`` characters (marked with an ellipsis), to quote user text in an error."""
    return text if len(text) <= limit else text[:limit] + "…"
