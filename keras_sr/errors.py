"""The one exception type for errors a user can cause (bad paths, bad files, bad options).

The CLI prints its message on one line and exits with code 2; anything else is a bug.

Library messages speak in the library's terms: a parameter is named as the Python parameter
(``qat_steps``), and listed in ``params`` so that a front end can name it its own way. The CLI
(:func:`keras_sr.cli.command`) rewrites each listed name into the command's flag
(``--qat-steps``), so ``export_tflite(qat_steps=-1)`` and ``sr-tool tflite --qat-steps -1``
each report the error in the words their user typed.
"""

from __future__ import annotations

import re


class UserError(Exception):
    """An error caused by the user's input, reported without a traceback.

    ``params``: the parameter names the message mentions, whole words of it.
    """

    def __init__(self, message: str, *, params: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.params = tuple(params)

    def in_terms_of(self, names: dict[str, str]) -> str:
        """The message with each parameter in ``params`` that ``names`` knows replaced by its
        name there (e.g. ``{"qat_steps": "--qat-steps"}``); other words unchanged."""
        message = str(self)
        for param in self.params:
            if param in names:
                message = re.sub(rf"(?<![\w-]){re.escape(param)}(?![\w-])", names[param], message)
        return message


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (or its type's name), for one-line errors."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
