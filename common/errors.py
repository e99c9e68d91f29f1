"""One-line error messages."""

from __future__ import annotations

import errno
import re

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


# What a full disk, a quota, a read-only mount or exhausted memory raise, and how the user
# is told (one home: the CLI's exit 4, the outbox and the sweep's logger all ask here).
_EXHAUSTED = {
    errno.ENOSPC: "out of disk space",
    errno.EDQUOT: "out of disk quota",
    errno.EROFS: "read-only filesystem",
    errno.EACCES: "permission denied (a read-only folder?)",
    errno.ENOMEM: "out of memory",
}
_ERRNO_TEXT = re.compile(r"\[Errno (\d+)\][^\n']*?(?:: '([^'\n]+)')?$", re.MULTILINE)


class Exhausted(RuntimeError):
    """A resource ran out where it could not be raised as itself (a trial's failure); the
    message is `exhausted`'s line."""


def exhausted(exc: BaseException | str | None) -> str | None:
    """'out of disk space: PATH' (or quota, read-only filesystem, memory) when `exc` or an
    exception it was raised from or during (not `from None`) is one, else None. Ray hands
    errors over as tracebacks in text (a trial's, a callback's): those are read for the
    errno and path."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, str):
            return _exhausted_text(exc)
        seen.add(id(exc))
        if isinstance(exc, Exhausted):
            return str(exc)
        if isinstance(exc, MemoryError):
            return "out of memory"
        if isinstance(exc, OSError) and exc.errno in _EXHAUSTED:
            where = exc.filename or exc.filename2
            return f"{_EXHAUSTED[exc.errno]}: {where}" if where else _EXHAUSTED[exc.errno]
        found = _exhausted_text(str(exc)) if type(exc).__module__.startswith("ray") else None
        if found:
            return found
        context = None if exc.__suppress_context__ else exc.__context__  # `from None`
        exc = getattr(exc, "cause", None) or exc.__cause__ or context
    return None


def _exhausted_text(text: str) -> str | None:
    found = [m for m in _ERRNO_TEXT.finditer(text) if int(m.group(1)) in _EXHAUSTED]
    named = [m for m in found if m.group(2)] or found
    if not named:
        return "out of memory" if "\nMemoryError" in text else None
    m = named[-1]
    what = _EXHAUSTED[int(m.group(1))]
    return f"{what}: {m.group(2)}" if m.group(2) else what


def naming(exc: OSError, path: object) -> OSError:
    """`exc` again with `path` as its filename when it has none (a failed write says only
    its errno), for `raise naming(exc, folder) from exc`."""
    if exc.filename is not None:
        return exc
    return type(exc)(exc.errno, exc.strerror, str(path))
