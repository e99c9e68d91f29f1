"""One-line error messages."""

from __future__ import annotations

from common.uris import mask_credentials


def first_line(exc: BaseException | str, limit: int = 200) -> str:
    """An exception's (or a text's) first non-empty line, for one-line messages; a password
    in a URI is masked."""
    text = mask_credentials(str(exc)).strip()
    lines = text.splitlines()
    if not lines:
        return type(exc).__name__ if isinstance(exc, BaseException) else ""
    return lines[0][:limit]


def last_line(text: str, default: str = "error") -> str:
    """A traceback's last line: the exception it ended with (a password in a URI masked)."""
    lines = mask_credentials(text).strip().splitlines()
    return lines[-1] if lines else default
