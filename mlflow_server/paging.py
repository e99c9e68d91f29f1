"""MLflow's searches come a page at a time (a tracking server returns at most 1,000 runs a
call, whatever is asked): every read of "all the runs" goes through `all_pages`."""

from __future__ import annotations

PAGE = 1000
"""Runs asked for per search call: what a tracking server returns at most."""


def all_pages(search) -> list:
    """Every item of a paged MLflow search: `search(page_token)` returns one page (a list
    with `.token`, None or empty on the last)."""
    items: list = []
    token = None
    while True:
        page = search(token)
        items.extend(page)
        token = getattr(page, "token", None)
        if not token:
            return items
