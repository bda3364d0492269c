"""The base of every error that is the user's to fix (bad file, missing package, bad flag).

The CLI prints such an error as one line and exits non-zero; anything else is a bug.
"""


class UserError(Exception):
    """A mistake in the user's input or environment, reported without a traceback."""


def printable(text: str) -> str:
    """`text` on one line: control characters (escape codes, newlines) as escapes."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
