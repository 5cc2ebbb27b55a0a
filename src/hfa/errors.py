"""The one exception type that means "the user gave something wrong".

The CLI turns it into exit status 2 and a single line; anything else is a bug and keeps its traceback.
"""


class HfaError(ValueError):
    """Invalid user input: a config file, key, value, data set, override or path.

    The message is one line that names what is wrong and what is allowed.
    """
