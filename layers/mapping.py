"""Attribute mapping files (TOML): which source field fills which target column, constants, value maps.

See data/mappings/ for documented examples.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from gis.errors import FileFormatError


@dataclass(frozen=True)
class Mapping:
    """A parsed mapping file."""

    fields: dict[str, str] = field(default_factory=dict)  # target column -> source field
    defaults: dict[str, object] = field(default_factory=dict)  # target column -> constant
    values: dict[str, dict[str, object]] = field(default_factory=dict)  # target -> {source value: value}
    layer: str | None = None
    source_layer: str | None = None
    crs: str | None = None
    plan: dict[str, object] | None = None  # a new plan version to create for this import
    source: str = ""


def parse_mapping(data: dict, source: str = "") -> Mapping:
    """Check the structure of a mapping given as a dict."""
    known = {"layer", "source_layer", "crs", "fields", "defaults", "values", "plan"}
    unknown = set(data) - known
    if unknown:
        raise FileFormatError(f"fichier de correspondance {source} : clé(s) inconnue(s) {sorted(unknown)} "
                              f"(clés possibles : {sorted(known)})")
    fields_ = data.get("fields", {})
    if not isinstance(fields_, dict) or not all(isinstance(v, str) for v in fields_.values()):
        raise FileFormatError(f"fichier de correspondance {source} : [fields] doit associer colonne = \"CHAMP\"")
    values = data.get("values", {})
    if not isinstance(values, dict) or not all(isinstance(v, dict) for v in values.values()):
        raise FileFormatError(f"fichier de correspondance {source} : [values.colonne] doit être une table")
    plan = data.get("plan")
    if plan is not None and not isinstance(plan, dict):
        raise FileFormatError(f"fichier de correspondance {source} : [plan] doit être une table")
    return Mapping(fields=dict(fields_), defaults=dict(data.get("defaults", {})),
                   values={k: {str(a): b for a, b in v.items()} for k, v in values.items()},
                   layer=data.get("layer"), source_layer=data.get("source_layer"), crs=data.get("crs"),
                   plan=plan, source=source)


def load_mapping(path: Path) -> Mapping:
    """Read a TOML mapping file."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileFormatError(f"fichier de correspondance introuvable : {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise FileFormatError(f"fichier de correspondance {path} illisible (TOML) : {exc}") from None
    return parse_mapping(data, str(path))
