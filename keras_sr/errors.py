"""The one exception type for errors a user can cause (bad paths, bad files, bad options).

The CLI prints its message on one line and exits with code 2; anything else is a bug.
"""


class UserError(Exception):
    """An error caused by the user's input, reported without a traceback."""
