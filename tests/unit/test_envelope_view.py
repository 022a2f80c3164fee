"""api/envelope_view.py: what the map's 3D view raises, without a database (envelopes made by hand)."""

from __future__ import annotations

from api.envelope_view import envelope_view, part_height

SQUARE = {"type": "Polygon", "coordinates": [[[-7.6, 33.5], [-7.5999, 33.5], [-7.5999, 33.5001], [-7.6, 33.5]]]}


def _part(code: str, max_m: float | None, storeys: int | None, marginal: bool = False, area: float = 100.0) -> dict:
    return {"zone": {"code": code}, "marginal": marginal, "buildable_area_m2": area, "geometry": SQUARE,
            "pieces": 1, "reasons": [], "plot": {},
            "height": {"max_m": max_m, "storeys_max": storeys, "levels": None if storeys is None else storeys + 1},
            "footprint": {"max_m2": area, "binding": "buildable_area", "pct": None},
            "floor_area": {"max_m2": area * 2, "binding": "cos"}}


def _envelope(*parts: dict) -> dict:
    return {"schema": "urbasig/envelope/1", "buildable": True, "reasons": [], "parts": list(parts),
            "totals": {"land_area_m2": 400.0, "max_footprint_m2": 200.0, "max_floor_area_m2": 400.0}}


def test_height_is_the_zone_maximum_else_levels_times_the_storey_height():
    assert part_height(_part("A", 11.5, 2), 3.0) == (11.5, "height_max_m")
    assert part_height(_part("A", None, 3), 3.2) == (12.8, "levels")  # R+3: 4 levels × 3,2 m
    assert part_height(_part("A", None, None), 3.0) == (None, "none")


def test_view_raises_the_governing_parts_and_says_how_high_and_why():
    green = _part("Z", None, 0)  # a green zone: ground left, but a footprint of 0 %
    green["footprint"] = {"max_m2": 0.0, "binding": "footprint_max_pct", "pct": 0.0}
    view = envelope_view(_envelope(_part("A", None, 3), _part("B", None, None), _part("S", 30, 8, marginal=True),
                                   _part("E", 9, 2, area=0.0), green), "fr", 3.0)
    features = view["features"]["features"]
    assert [(f["properties"]["zone"], f["properties"]["height_m"]) for f in features] == [("A", 12.0)]
    assert view["legend"]["heights"] == [
        "Zone A : volume élevé à 12\u00a0m (4 niveaux × 3\u00a0m : le règlement ne fixe pas de hauteur en mètres).",
        "Zone B : ni hauteur ni nombre de niveaux dans le règlement, volume non dessiné."]
    assert view["bbox"] == [-7.6, 33.5, -7.5999, 33.5001]
    lines = view["legend"]["lines"]  # one line per governing part (A, B, E, Z), then the total; the mention apart
    assert len(lines) == 4 + 1 and "hauteur non fixée" in lines[1] and "aucune surface constructible" in lines[2]
    assert lines[3] == ("Enveloppe indicative, zone Z : rien n'y est constructible — la zone Z n'admet aucune "
                        "emprise au sol (0\u00a0%).")
