"""Names a user gives (a sweep, a registered model, an alias): one check for all of them.

A name becomes a folder under the sweep's storage and the reports directory, an MLflow
experiment or model, part of a URI: one path component of letters, digits, `_`, `.` and `-`,
not hidden (`.`) and not read as an option (`-`). Every command checks what it is given
here, before anything is created, and says which key and why in one line.
"""

from __future__ import annotations

import re

NAME_MAX = 100
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class BadName(ValueError):
    """A name that cannot be used; the message is one line naming the key and why."""


def name_problem(value: object) -> str | None:
    """Why `value` cannot be a name, or None."""
    if not isinstance(value, str):
        return f"must be a string, not {type(value).__name__}"
    if not value:
        return "is empty"
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        return "contains a control character (a newline, a tab...)"
    if len(value) > NAME_MAX:
        return f"is {len(value)} characters long (at most {NAME_MAX})"
    if value.startswith(("/", "\\")) or re.match(r"[A-Za-z]:[/\\]", value):
        return "is an absolute path, not a name"
    if ".." in re.split(r"[/\\]", value):
        return "climbs out of its folder ('..')"
    if "/" in value or "\\" in value:
        return "contains a path separator (one folder name is expected)"
    if value[0] == ".":
        return "starts with '.' (a hidden folder)"
    if value[0] == "-":
        return "starts with '-' (read as a command-line option)"
    if not _NAME.fullmatch(value):
        bad = next(c for c in value if not (c.isascii() and (c.isalnum() or c in "_.-")))
        return f"contains {bad!r} (only letters, digits, '_', '.' and '-')"
    return None


def check_name(value: object, key: str) -> str:
    """`value` if it can be a name, else BadName naming `key` and why (one line)."""
    why = name_problem(value)
    if why is not None:
        raise BadName(f"{key}: {why} (got {shown(value)})")
    return value  # type: ignore[return-value]


def shown(value: object, limit: int = 60) -> str:
    """A value as an error line shows it: its repr, cut to `limit` characters."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 4]}...{text[-1]}"


def a_name(value: object) -> object:
    """A pydantic field validator: its error line names the key, `name_problem` says why."""
    if value is not None and (why := name_problem(value)) is not None:
        raise ValueError(why)
    return value
