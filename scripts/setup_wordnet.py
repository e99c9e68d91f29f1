"""Build NLTK's WordNet corpus offline from Debian's WordNet packages.

    python scripts/setup_wordnet.py [--target DIR] [--verify]

NLTK normally downloads `wordnet.zip` from GitHub, which is unreachable here. Debian's
`wordnet-base` and `wordnet-sense-index` ship the same WordNet 3.0 database files (rebuilt by
Debian from the Princeton sources) in /usr/share/wordnet; NLTK additionally needs a `lexnames`
file, which Debian documents only as a table in the lexnames(5WN) man page, so it is derived
from there. The default target is `<sys.prefix>/nltk_data/corpora/wordnet`, a directory NLTK
searches by default. Re-running is cheap: files already in place are left alone.
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SOURCE = Path("/usr/share/wordnet")
MAN_PAGE = Path("/usr/share/man/man5/lexnames.5WN.gz")
PACKAGES = ("wordnet-base", "wordnet-sense-index")
# Every file NLTK's WordNetCorpusReader opens, except `lexnames`, which is generated.
FILES = (
    "cntlist.rev",
    "index.sense",
    "index.adj",
    "index.adv",
    "index.noun",
    "index.verb",
    "data.adj",
    "data.adv",
    "data.noun",
    "data.verb",
    "adj.exc",
    "adv.exc",
    "noun.exc",
    "verb.exc",
)
# Syntactic category numbers used in lexnames, by the lexicographer file's prefix.
CATEGORIES = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}


class SetupError(Exception):
    """A problem the user has to fix; its message is printed as one line."""


def default_target() -> Path:
    return Path(sys.prefix) / "nltk_data" / "corpora" / "wordnet"


def parse_lexnames(man_page: str) -> list[tuple[int, str, int]]:
    """Rows (number, name, category) of the table in lexnames(5WN).

    The table body sits between a line holding only `_` (the rule under the header) and `.TE`;
    each row is `NN<TAB>name<TAB>description`.
    """
    lines = man_page.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "_")
        end = next(i for i in range(start, len(lines)) if lines[i].startswith(".TE"))
    except StopIteration:
        raise ValueError("no lexnames table (`_` ... `.TE`) in the man page") from None
    rows = []
    for line in lines[start + 1 : end]:
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 2:
            raise ValueError(f"unexpected lexnames row: {line!r}")
        number, name = int(fields[0]), fields[1].strip()
        prefix = name.split(".", 1)[0]
        if prefix not in CATEGORIES:
            raise ValueError(f"unknown lexname prefix in {name!r}")
        rows.append((number, name, CATEGORIES[prefix]))
    # NLTK asserts that line i holds number i.
    if not rows or [r[0] for r in rows] != list(range(len(rows))):
        raise ValueError("lexnames table is empty or not numbered 0, 1, 2, ...")
    return rows


def format_lexnames(rows: list[tuple[int, str, int]]) -> str:
    """The `lexnames` file as NLTK and the WordNet distribution lay it out."""
    return "".join(f"{number:02d}\t{name}\t{category}\n" for number, name, category in rows)


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    if os.geteuid() != 0 and cmd[0] == "apt-get" and shutil.which("sudo"):
        cmd = ["sudo", "-n", *cmd]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)


def _last_line(proc: subprocess.CompletedProcess[str]) -> str:
    lines = (proc.stderr or proc.stdout).strip().splitlines()
    return lines[-1] if lines else f"exit status {proc.returncode}"


def ensure_packages(source: Path = SOURCE) -> None:
    """apt-get install the WordNet packages unless their files are already there."""
    if (source / "data.noun").is_file() and (source / "index.sense").is_file():
        return
    if shutil.which("apt-get") is None:
        raise SetupError(f"{source}/data.noun missing and no apt-get: install {' '.join(PACKAGES)}")
    install = ["apt-get", "install", "-y", "--no-install-recommends", *PACKAGES]
    proc = _run(install)
    if proc.returncode != 0:
        update = _run(["apt-get", "update"])
        proc = _run(install) if update.returncode == 0 else update
    if proc.returncode != 0:
        raise SetupError(f"apt-get install {' '.join(PACKAGES)} failed: {_last_line(proc)}")
    if not (source / "data.noun").is_file():
        raise SetupError(f"{source}/data.noun still missing after installing {' '.join(PACKAGES)}")


def read_man_page(man_page: Path = MAN_PAGE) -> str:
    """The lexnames(5WN) man page; pulled out of the .deb if the image strips man pages."""
    if man_page.is_file():
        return gzip.decompress(man_page.read_bytes()).decode("utf-8", errors="replace")
    # Slim Docker images exclude /usr/share/man from dpkg, so fetch the package file itself.
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            ["apt-get", "download", "wordnet-base"], cwd=tmp, capture_output=True, text=True
        )
        debs = list(Path(tmp).glob("wordnet-base_*.deb"))
        if proc.returncode != 0 or not debs:
            raise SetupError(f"{man_page} missing and apt-get download failed: {_last_line(proc)}")
        subprocess.run(["dpkg-deb", "-x", str(debs[0]), tmp], check=True, capture_output=True)
        extracted = Path(tmp) / man_page.relative_to("/")
        if not extracted.is_file():
            raise SetupError(f"{man_page.name} not found in {debs[0].name}")
        return gzip.decompress(extracted.read_bytes()).decode("utf-8", errors="replace")


def _up_to_date(src: Path, dest: Path) -> bool:
    if not dest.is_file():
        return False
    a, b = src.stat(), dest.stat()
    return a.st_size == b.st_size and int(a.st_mtime) == int(b.st_mtime)


def _write_atomic(dest: Path, write) -> None:
    tmp = dest.with_name(f".{dest.name}.tmp")
    write(tmp)
    os.replace(tmp, dest)


def build(target: Path, source: Path = SOURCE, man_page: Path = MAN_PAGE) -> bool:
    """Copy the database files and write `lexnames` into target; True if anything changed."""
    missing = [name for name in FILES if not (source / name).is_file()]
    if missing:
        raise SetupError(f"missing in {source}: {', '.join(missing)} (reinstall {PACKAGES[0]})")
    target.mkdir(parents=True, exist_ok=True)
    changed = False
    for name in FILES:
        src, dest = source / name, target / name
        if not _up_to_date(src, dest):
            _write_atomic(dest, lambda tmp, src=src: shutil.copy2(src, tmp))
            changed = True
    try:
        lexnames = format_lexnames(parse_lexnames(read_man_page(man_page)))
    except ValueError as exc:
        raise SetupError(f"cannot derive lexnames from {man_page}: {exc}") from None
    dest = target / "lexnames"
    if not dest.is_file() or dest.read_text() != lexnames:
        _write_atomic(dest, lambda tmp: tmp.write_text(lexnames))
        changed = True
    return changed


def verify(target: Path) -> str:
    """Open target with NLTK's reader and look up "dog"; returns the first synset's name."""
    import warnings

    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    try:
        with warnings.catch_warnings():
            # No Open Multilingual Wordnet here (not needed for English): silence that warning.
            warnings.simplefilter("ignore")
            synsets = WordNetCorpusReader(str(target), None).synsets("dog")
    except Exception as exc:  # any failure inside NLTK means the corpus is unusable
        problem = f"NLTK cannot read it: {type(exc).__name__}: {exc}"
    else:
        if synsets and synsets[0].name() == "dog.n.01":
            return synsets[0].name()
        problem = f"synsets('dog') gave {synsets[:1]}"
    # Drop lexnames so the next run rebuilds and re-verifies instead of saying "in place".
    (target / "lexnames").unlink(missing_ok=True)
    raise SetupError(f"WordNet at {target} is broken: {problem}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=Path, default=default_target(), help="corpus dir")
    parser.add_argument("--verify", action="store_true", help="load it with NLTK even if unchanged")
    args = parser.parse_args(argv)
    try:
        ensure_packages()
        changed = build(args.target)
        verified = changed or args.verify
        if verified:
            verify(args.target)
    except (SetupError, OSError, subprocess.CalledProcessError) as exc:
        print(f"setup_wordnet: {exc}", file=sys.stderr)
        return 1
    state = "built" if changed else "already in place"
    print(f"WordNet {state}{', verified' if verified else ''}: {args.target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
