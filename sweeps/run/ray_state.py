"""Ray's own record of a sweep, checked before it is restored: a torn one is set aside.

Ray keeps a sweep's state in files named after the driver session that wrote them
(`experiment_state-<session>.json`, `search_gen_state-<session>.json`,
`searcher-state-<session>.pkl`) and restores from the newest session's. It writes them in
place (and copies them to the sweep's storage in place), so a driver killed mid-write
leaves one torn, and Ray's restore then fails or, worse, starts the search over. Here the
newest session's files are read first (JSON parsed; a pickle's opcodes walked, never
run); when one is torn, that session's files are renamed `*.torn` together, so Ray restores
the session before it, consistently. Free of Ray.
"""

from __future__ import annotations

import json
import pickletools
import re

import pyarrow.fs as pafs

from sweeps.run.storage import Storage

STATE = re.compile(r"experiment_state-(.+)\.json")
TORN = ".torn"


class RayStateTorn(ValueError):
    """Every record Ray kept of the sweep is unreadable; one line."""


def _readable(fs: pafs.FileSystem, path: str) -> bool:
    try:
        with fs.open_input_stream(path) as fh:
            raw = fh.read()
        if raw[:1] == b"\x80":  # a pickle (Ray's `search_gen_state-*.json` is one too)
            for _ in pickletools.genops(raw):  # a cut pickle ends before its STOP
                pass
        else:
            json.loads(raw.decode("utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return True


def set_aside_torn(storage: Storage, name: str) -> list[str]:
    """Before Ray restores sweep `name`: each newest session whose files are torn renamed
    aside, until a whole one is newest. Returns the sessions set aside; RayStateTorn when
    no whole one is left."""
    exp = storage.path(name)
    try:
        infos = storage.fs.get_file_info(pafs.FileSelector(exp, allow_not_found=True))
    except OSError:
        return []
    names = [i.base_name for i in infos if i.type == pafs.FileType.File]
    sessions = sorted({m.group(1) for n in names if (m := STATE.fullmatch(n))}, reverse=True)
    aside = []
    for session in sessions:
        # Ray's own files of the session; a hidden one is a copy in progress (Ray's temporary
        # searcher state, a `.part`), never what Ray restores from.
        files = [n for n in names if session in n and not n.endswith(TORN) and n[0] != "."]
        if all(_readable(storage.fs, f"{exp}/{n}") for n in files):
            return aside
        for n in files:
            storage.fs.move(f"{exp}/{n}", f"{exp}/{n}{TORN}")
        aside.append(session)
    if aside or any(STATE.fullmatch(n.removesuffix(TORN)) for n in names if n.endswith(TORN)):
        # Never a new search in the old one's folder: its trials would be run again.
        raise RayStateTorn(
            f"Ray's record of sweep {name!r} is torn (set aside as *{TORN} in {exp}); its "
            "trials' results are in MLflow: start the sweep again under another --name"
        )
    return aside
