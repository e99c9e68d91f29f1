"""The report's markdown as one self-contained HTML page (plots embedded as base64)."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

STYLE = (
    "body{font-family:sans-serif;max-width:1100px;margin:2em auto}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
    "padding:3px 8px;font-size:13px}code{background:#f3f3f3}"
)


def to_html(md: list[str], plots: list[Path]) -> str:
    """A small markdown subset (headings, tables, lists) as self-contained HTML."""
    images = {p.name: p for p in plots}
    out, in_table = [], False
    for line in md:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if set("".join(cells)) <= set("-"):
                continue
            tag = "th" if not in_table else "td"
            if not in_table:
                out.append("<table>")
                in_table = True
            out.append("<tr>" + "".join(f"<{tag}>{_inline(c)}</{tag}>" for c in cells) + "</tr>")
            continue
        if in_table:
            out.append("</table>")
            in_table = False
        out.append(_block(line, images))
    if in_table:
        out.append("</table>")
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>sweeplab report</title>"
        f"<style>{STYLE}</style></head><body>{''.join(out)}</body></html>\n"
    )


def _block(line: str, images: dict[str, Path]) -> str:
    if m := re.match(r"!\[[^\]]*\]\(([^)]+)\)", line):
        return _img(images[m.group(1)])
    if m := re.match(r"(#+) (.*)", line):
        level = len(m.group(1))
        return f"<h{level}>{_inline(m.group(2))}</h{level}>"
    if line.startswith("- "):
        return f"<li>{_inline(line[2:])}</li>"
    if line.strip():
        return f"<p>{_inline(line)}</p>"
    return ""


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{path.stem}" src="data:image/png;base64,{data}" style="max-width:100%">'


def _inline(text: str) -> str:
    text = html.escape(text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", text)
    text = re.sub(r"\*([^*]+)\*", r"<i>\1</i>", text)
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
