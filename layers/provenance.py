"""What produced a piece of data: the code version recorded with imports and legal outputs."""

from __future__ import annotations

import subprocess
from functools import lru_cache
from importlib import metadata
from pathlib import Path


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
