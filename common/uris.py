"""What kind of location a string names."""

from __future__ import annotations

import re


def is_http(uri: str) -> bool:
    """An http(s) URL: a tracking server, reached over the network."""
    return uri.startswith(("http://", "https://"))


_USERINFO = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s'\"]+):[^/\s'\"]*@")


def mask_credentials(text: str) -> str:
    """`text` with the password of every URI in it masked:
    `postgresql://user:secret@host/db` -> `postgresql://user:***@host/db`."""
    return _USERINFO.sub(r"\1:***@", str(text))
