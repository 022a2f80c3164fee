"""What the map's 3D view shows of a land's buildable envelope (pure: no Flask, no database).

`envelope_view(envelope, lang)` turns an envelope whose polygons are in CRS84 (instruction/envelope.py
`envelope_output(…, "OGC:CRS84")`) into the answer of GET /carte/enveloppe: one GeoJSON feature per governing
zone part where something may be built, extruded to `height_m` — the zone's maximum height, else its levels
× the storey height the envelope was computed with (URBASIG_ENVELOPE_STOREY_HEIGHT_M, in its `assumptions`),
else not extruded and said so — their box, and the legend's lines in the page's language (the notes' own
lines, notes/envelope.py).
"""

from __future__ import annotations

from api.i18n import translate
from gis import l10n
from notes.envelope import buildable_part, envelope_lines, governing_parts, levels_text


def part_height(part: dict, storey_height_m: float) -> tuple[float | None, str]:
    """The height a part is extruded to (m) and where it comes from: `height_max_m`, `levels` or `none`."""
    height = part["height"]
    if height.get("max_m"):
        return float(height["max_m"]), "height_max_m"
    if height.get("levels"):
        return round(height["levels"] * storey_height_m, 2), "levels"
    return None, "none"


def _box(features: list[dict]) -> list[float] | None:
    xs, ys = [], []

    def walk(coords: list) -> None:
        if coords and isinstance(coords[0], int | float):
            xs.append(coords[0])
            ys.append(coords[1])
            return
        for c in coords:
            walk(c)

    for f in features:
        walk(f["geometry"]["coordinates"])
    return [min(xs), min(ys), max(xs), max(ys)] if xs else None


def _metres(value: float, lang: str) -> str:
    text = l10n.number(value, lang, 2, trim=True)
    return f"{text[:-1] if ',' in text and text.endswith('0') else text}{l10n.NBSP}m"


def envelope_view(envelope: dict, lang: str, storey_height_m: float = 3.0) -> dict:
    """The 3D view's answer: features to extrude (CRS84), their box, the legend in `lang` (the storey height the
    envelope was computed with, else `storey_height_m`)."""
    storey_height_m = (envelope.get("assumptions") or {}).get("storey_height_m", storey_height_m)
    features, heights = [], []
    for part in governing_parts(envelope):
        if not part.get("geometry") or not buildable_part(part):
            continue  # nothing to raise there: its line says why
        height_m, source = part_height(part, storey_height_m)
        zone = part["zone"]["code"]
        if height_m is None:
            heights.append(translate("panel.3d.height_none", lang, zone=l10n.embed(zone, lang)))
            continue
        features.append({"type": "Feature", "geometry": part["geometry"],
                         "properties": {"zone": zone, "height_m": height_m, "height_from": source,
                                        "footprint_max_m2": part["footprint"]["max_m2"],
                                        "floor_area_max_m2": part["floor_area"]["max_m2"]}})
        key = "panel.3d.height_max" if source == "height_max_m" else "panel.3d.height_levels"
        levels = part["height"].get("levels")
        values = {"zone": zone, "height": _metres(height_m, lang), "levels": levels_text(levels, lang) if levels else "",
                  "storey": _metres(storey_height_m, lang)}
        heights.append(translate(key, lang, **{k: l10n.embed(v, lang) for k, v in values.items()}))
    lines = envelope_lines({"envelope": envelope}, lang)
    return {"schema": envelope["schema"], "buildable": envelope["buildable"],
            "features": {"type": "FeatureCollection", "features": features}, "bbox": _box(features),
            "legend": {"title": translate("panel.3d.title", lang), "lines": lines[:-1], "heights": heights,
                       "mention": lines[-1]}}
