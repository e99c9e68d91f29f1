"""A password typed on sweeplab's own command line, masked where `ps` shows it.

Every local user can read any process's command line (`/proc/PID/cmdline`, `ps -ef`). A
user who passes `--backend-store-uri postgresql://user:secret@host/db` (rather than
`$MLFLOW_BACKEND_STORE_URI`) would show the password to all of them for as long as the
command runs. On Linux the process rewrites that area of its own memory (its address is in
`/proc/self/stat`) with every URI password masked, first thing; elsewhere nothing changes.
Python keeps its own copy of the arguments (`sys.argv`), so the program is unaffected.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

from common.uris import mask_credentials


def _arg_area() -> tuple[int, int] | None:
    """(start, end) addresses of this process's original argument strings (Linux)."""
    try:
        stat = Path("/proc/self/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()  # after "pid (comm)": field 3 onwards
    try:
        start, end = int(fields[45]), int(fields[46])  # fields 48 and 49: arg_start, arg_end
    except (IndexError, ValueError):
        return None
    return (start, end) if 0 < start < end else None


def mask_own_command_line() -> bool:
    """Mask URI passwords in this process's command line as others see it; True if any."""
    try:
        shown = Path("/proc/self/cmdline").read_bytes()
    except OSError:
        return False
    masked = mask_credentials(shown.decode("utf-8", "surrogateescape")).encode(
        "utf-8", "surrogateescape"
    )
    area = _arg_area()
    if masked == shown or area is None or area[1] - area[0] < len(shown):
        return False
    new = masked[: len(shown)].ljust(len(shown), b"\0")  # same length: nothing moves
    ctypes.memmove(area[0], new, len(new))
    return True
