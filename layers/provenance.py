"""What produced a piece of data: the code version and the data's versions, recorded with imports and legal
outputs."""

from __future__ import annotations

import subprocess
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import psycopg


@lru_cache(maxsize=1)
def code_version() -> str:
    """The package version, with the git commit when running from a checkout ("0.1.0+g1a2b3c4")."""
    try:
        version = metadata.version("urbasig")
    except metadata.PackageNotFoundError:
        version = "0+unknown"
    root = Path(__file__).resolve().parent.parent  # the checkout; site-packages when installed from the wheel
    if (root / ".git").exists() and (root / "pyproject.toml").is_file():
        result = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=10", "HEAD"],
                                capture_output=True, text=True)
        if result.returncode == 0 and result.stdout.strip():
            version += "+g" + result.stdout.strip()
    return version


DATA_STAMPS = """
SELECT layer, version, to_char(changed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
FROM layer_versions WHERE layer = ANY(%s) ORDER BY layer
"""


def data_stamps(conn: psycopg.Connection, layers: list[str]) -> dict:
    """When the layers a computation reads last changed: their versions (layer_versions, bumped by every write)
    and the latest change, the data timestamp of the result."""
    rows = conn.execute(DATA_STAMPS, (layers,)).fetchall()
    return {"data_timestamp": max((r[2] for r in rows), default=None),
            "layer_versions": {layer: version for layer, version, _ in rows}}
