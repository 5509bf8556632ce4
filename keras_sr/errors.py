"""The one exception type for errors a user can cause (bad paths, bad files, bad options).

The CLI prints its message on one line and exits with code 2; anything else is a bug.
"""


class UserError(Exception):
    """An error caused by the user's input, reported without a traceback."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (or its type's name), for one-line errors."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
