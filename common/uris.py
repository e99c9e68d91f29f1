"""What kind of location a string names."""

from __future__ import annotations


def is_http(uri: str) -> bool:
    """An http(s) URL: a tracking server, reached over the network."""
    return uri.startswith(("http://", "https://"))
