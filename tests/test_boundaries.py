"""The house rules, checked over the source tree: SQL only in layers/, no commit in instruction/, driver
errors caught only in layers/ (where they enter)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SKIP = {"layers", "tests", "bench", ".venv", "var", "build", "dist", "node_modules"}
SQL = re.compile(r"(cur|conn|cursor)\.(execute|executemany|copy)\(|sql\.SQL\(|\b(SELECT|INSERT INTO|UPDATE|DELETE FROM) "
                 r"[a-z_]+")
COMMIT = re.compile(r"\.(commit|rollback)\(")
DRIVER_CATCH = re.compile(r"except\s*\(?[^:]*\b(psycopg|psycopg_pool|pyogrio|pyproj)\.")


def _sources(*top: str) -> list[Path]:
    """Python files of the project outside layers/, tests/ and bench/ (or only under `top`)."""
    files = []
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        if parts[0] in SKIP or any(p.startswith(".") for p in parts):
            continue
        if top and parts[0] not in top:
            continue
        files.append(path)
    return files


def _hits(pattern: re.Pattern, files: list[Path]) -> list[str]:
    return [f"{path.relative_to(ROOT)}:{n}: {line.strip()}" for path in files
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if pattern.search(line)]


def test_the_tree_is_scanned():
    names = {str(p.relative_to(ROOT)) for p in _sources()}
    assert {"app.py", "notes/official.py", "api/official.py", "api/ogc/meta.py", "instruction/checks.py"} <= names
    assert not any(n.startswith(("layers/", "tests/")) for n in names)
    assert _hits(SQL, [ROOT / "layers" / "note_requests.py"])  # the pattern does find SQL where it lives


def test_no_sql_outside_layers():
    assert _hits(SQL, _sources()) == []


def test_instruction_never_commits():
    assert _hits(COMMIT, _sources("instruction")) == []


def test_driver_errors_are_caught_only_in_layers():
    assert _hits(DRIVER_CATCH, _sources("api", "notes", "instruction", "gis")) == []
