"""A small hand-built territory whose instruction answers are worked out by hand (EPSG:26191, around X0, Y0).

    y
    252 ┌──────────── north road (x 0–300) ────────────┐
    240 ├ TF 10 (5–35 × 200–240, zone V2) ┤ TF 11 (100–160 × 200–240, zone D) │
     50 ├ TF 1 (44–84 × 0–50): V2 | D split at x = 60 (40 % / 60 %)
      5 ├ widening strip x 90–180, y 0–5 (TF 2: 100–130 × 0–40 loses 150 m²)
      0 └──────────── south road (y −20–0) ─────────────
    zones of PA-T-2006: V2 x 0–60, D x 60–239.5, C x 239.5–1000; PA-T-2020 (homologated 2020-01-01): B from x 300
    TF 3 (200–240 × 100–150) has a 0.5 m sliver in C; TF 4 (400–440 × 100–150) is C before 2020, B after
    TF 5 (1500–1540) is outside the PA (SDAU only); TF 6 (5000–5040) is outside every layer
    TF 7 + TF 8 contiguous (600–640 × 300–340); TF 9 (700–720) is apart
    pharmacy at (500, 500); a request at (780, 500) is 280 m away
"""

from __future__ import annotations

import json

import psycopg
import shapely

from layers.plans import create_plan, set_status
from tests.helpers import X0, Y0, add_commune, box

V2 = dict(code="V2", sector="V2-1", label="Villas jumelées", dominant_use="habitat individuel", height_max_m=11.5,
          storeys_max=2, footprint_max_pct=40, cos_value=0.8, cos_meaning="plancher", min_plot_area_m2=300,
          min_frontage_m=15, setback_road_m=4, setback_side_m=3, setback_rear_m=4, continuous_frontage=False,
          uses_allowed=["habitation individuelle"], uses_forbidden=["industrie", "établissement classé"])
D = dict(code="D", sector="D-1", label="Immeubles R+4", dominant_use="habitat collectif", height_max_m=17.5,
         storeys_max=4, footprint_max_pct=70, cus_value=2.8, cus_meaning="plancher", min_plot_area_m2=200,
         min_frontage_m=10, setback_road_m=0, setback_side_m=0, setback_rear_m=6, continuous_frontage=True,
         uses_allowed=["habitation", "commerce de proximité"],
         uses_forbidden=["établissement classé 1re catégorie", "établissement classé 2e catégorie"])
C = dict(code="C", sector="C-1", label="Immeubles R+6", dominant_use="habitat collectif", height_max_m=23.5,
         storeys_max=6, footprint_max_pct=75, min_plot_area_m2=300, min_frontage_m=15, setback_road_m=0,
         uses_allowed=["habitation", "commerce de proximité"],
         conditional_rules=[{"parameter": "storeys_max", "value": 5, "when": {"road_width_lt_m": 20}, "article": "12"}])
B = dict(code="B", sector="B-1", label="Immeubles R+8", dominant_use="habitat et bureaux", height_max_m=30,
         storeys_max=8, footprint_max_pct=80, min_plot_area_m2=500, uses_allowed=["habitation", "bureaux"])

PARCELS = {
    "TF 1/T": box(44, 0, 40, 50), "TF 2/T": box(100, 0, 30, 40), "TF 3/T": box(200, 100, 40, 50),
    "TF 4/T": box(400, 100, 40, 50), "TF 5/T": box(1500, 100, 40, 50), "TF 6/T": box(5000, 100, 40, 50),
    "TF 7/T": box(600, 300, 20, 40), "TF 8/T": box(620, 300, 20, 40), "TF 9/T": box(700, 300, 20, 40),
    "TF 10/T": box(5, 200, 30, 40), "TF 11/T": box(100, 200, 60, 40),
}


def _zone(conn, plan_id, spec, geom):
    cols = dict(spec)
    rules = cols.pop("conditional_rules", [])
    names = list(cols)
    conn.execute(f"INSERT INTO zones (plan_id, {', '.join(names)}, conditional_rules, geom) VALUES (%s, "  # noqa: S608
                 f"{', '.join(['%s'] * len(names))}, %s::jsonb, ST_Multi(ST_GeomFromText(%s, 26191)))",
                 (plan_id, *cols.values(), json.dumps(rules), geom.wkt))


def _prescription(conn, plan_id, kind, geom, **attrs):
    conn.execute("INSERT INTO prescriptions (plan_id, kind, label, width_m, road_name, facility_code, facility_label, "
                 "geom) VALUES (%s, %s, %s, %s, %s, %s, %s, ST_GeomFromText(%s, 26191))",
                 (plan_id, kind, attrs.get("label"), attrs.get("width_m"), attrs.get("road_name"),
                  attrs.get("facility_code"), attrs.get("facility_label"), geom.wkt))


def build(conn: psycopg.Connection) -> None:
    """Load the hand-built territory."""
    add_commune(conn, "ANFA", box(-500, -500, 2500, 2500))
    sdau = create_plan(conn, {"code": "SDAU-T", "kind": "SDAU", "name": "SDAU test", "status": "homologue",
                              "status_date": "2000-01-01"})
    conn.execute("INSERT INTO sdau_zones (plan_id, code, label, destination, geom) VALUES (%s, 'UE', "
                 "'Urbanisation existante', 'habitat', ST_Multi(ST_GeomFromText(%s, 26191)))",
                 (sdau, box(-500, -500, 3500, 2500).wkt))
    conn.execute("UPDATE plans SET perimeter = ST_Multi(ST_GeomFromText(%s, 26191)) WHERE id = %s",
                 (box(-500, -500, 3500, 2500).wkt, sdau))
    for code, start, cut in (("PA-T-2006", "2006-06-12", None), ("PA-T-2020", "2019-01-01", 300)):
        spec = {"code": code, "kind": "PA", "name": f"PA test {code[-4:]}", "status": "homologue" if cut is None
                else "enquete_publique", "status_date": start, "approval_act": "Décret test",
                "commune_codes": ["ANFA"]}
        if cut is not None:
            spec["replaces"] = "PA-T-2006"
        plan_id = create_plan(conn, spec)
        conn.execute("UPDATE plans SET perimeter = ST_Multi(ST_GeomFromText(%s, 26191)) WHERE id = %s",
                     (box(0, 0, 1000, 1000).wkt, plan_id))
        _zone(conn, plan_id, V2, box(0, 0, 60, 1000))
        _zone(conn, plan_id, D, box(60, 0, 179.5, 1000))
        if cut is None:
            _zone(conn, plan_id, C, box(239.5, 0, 760.5, 1000))
        else:
            _zone(conn, plan_id, C, box(239.5, 0, cut - 239.5, 1000))
            _zone(conn, plan_id, B, box(cut, 0, 1000 - cut, 1000))
        _prescription(conn, plan_id, "road_widening", box(90, 0, 90, 5), label="Élargissement de la rue A à 25 m",
                      width_m=25, road_name="Rue A")
        _prescription(conn, plan_id, "alignment", shapely.LineString([(X0 + 90, Y0 + 5), (X0 + 180, Y0 + 5)]),
                      label="Alignement de la rue A", width_m=25, road_name="Rue A")
        _prescription(conn, plan_id, "facility_reservation", box(620, 320, 20, 20), label="Réservé : école",
                      facility_code="E", facility_label="École")
    set_status(conn, "PA-T-2020", "homologue", __import__("datetime").date(2020, 1, 1), "Décret test 2020")
    for name, geom, width in (("Route sud", box(-500, -20, 2500, 20), 20.0), ("Rue nord", box(0, 240, 300, 12), 12.0)):
        conn.execute("INSERT INTO roads (name, width_m, commune_code, geom) VALUES (%s, %s, 'ANFA', "
                     "ST_Multi(ST_GeomFromText(%s, 26191)))", (name, width, geom.wkt))
    for ref, geom in PARCELS.items():
        number = int(ref.split()[1].split("/")[0])
        conn.execute("INSERT INTO parcels (ref_kind, ref_number, ref_suffix, ref_text, legal_area_m2, commune_code, "
                     "geom) VALUES ('TF', %s, 'T', %s, %s, 'ANFA', ST_Multi(ST_GeomFromText(%s, 26191)))",
                     (number, ref, round(geom.area), geom.wkt))
    conn.execute("INSERT INTO establishments (kind, name, status, opened_on, geom) VALUES ('pharmacy', "
                 "'Pharmacie du test', 'ouvert', '2001-01-01', ST_SetSRID(ST_MakePoint(%s, %s), 26191))",
                 (X0 + 500, Y0 + 500))
    conn.commit()
