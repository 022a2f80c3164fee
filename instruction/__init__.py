"""Instruction engine: overlay → findings → rules, and the permit, subdivision and licence checks.

The rule modules (rules, permit, lots, licence rules) are pure; `engine` and `checks` feed them with
layers/ queries. See README.md in this folder.
"""

from pathlib import Path

SCHEMA_VERSION = "urbasig/instruction/1"


def schema_path() -> Path:
    """Return the path of the JSON Schema of the instruction result."""
    return Path(__file__).resolve().parent / "schema" / "instruction-result.schema.json"
