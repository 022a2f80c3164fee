"""A small hand-built territory whose buildable envelopes are worked out by hand (EPSG:26191, around X0, Y0).

    y
    110 ┌──────────── Rue nord (x 0–500, y 100–110, 10 m) ───────────────────────────────────┐
    100 │ TF 208 (10–20 × 90–100)   TF 209 (trapezoid 130–150)        TF 210 (310–330 × 80–100)│
        │                       ║ Avenue        ║                                               │
     30 │ TF 207 TF 201  TF 202 TF 205  TF 203 ║ (x 100–112,   TF 204 (130–145)  TF 206 (190–210) │
      5 │ (2–8)  (10–30) (40–52) (58–78) (80–100) 12 m)                                        │
      0 └──────────── Rue principale (x −100–500, y −20–0, 20 m); widening strip x 55–79, y 0–5 ──┘
    zones of PA-E (homologated 2010): VA x 0–100, CF x 112–200, E x 200–300, H x 300–400 (y 0–200)

Every answer is computed by hand in tests/test_envelope.py.
"""

from __future__ import annotations

from datetime import date

import psycopg
import shapely

from layers.plans import create_plan
from tests.helpers import X0, Y0, add_commune, box
from tests.instruction_world import _prescription, _zone

DAY = date(2015, 1, 1)
# villas: 4 m from the road, 3 m from the side and rear limits; R+3 and 14.5 m instead of R+2 and 11.5 m on a road
# of 25 m or more
VA = dict(code="VA", sector="VA-1", label="Villas (essai)", dominant_use="habitat individuel", height_max_m=11.5,
          storeys_max=2, footprint_max_pct=60, cos_value=1.2, cos_meaning="plancher", min_plot_area_m2=150,
          min_frontage_m=6, setback_road_m=4, setback_side_m=3, setback_rear_m=3, continuous_frontage=False,
          uses_allowed=["habitation individuelle"],
          conditional_rules=[{"parameter": "storeys_max", "value": 3, "when": {"road_width_min_m": 25},
                              "article": "VA 5"},
                             {"parameter": "height_max_m", "value": 14.5, "when": {"road_width_min_m": 25},
                              "article": "VA 5"}])
# continuous frontage: built on the road and side limits, 6 m from the rear limit
CF = dict(code="CF", sector="CF-1", label="Front bâti continu (essai)", dominant_use="habitat collectif",
          height_max_m=17.5, storeys_max=4, footprint_max_pct=70, cus_value=2.8, cus_meaning="plancher",
          min_plot_area_m2=200, min_frontage_m=10, setback_road_m=0, setback_side_m=0, setback_rear_m=6,
          continuous_frontage=True, uses_allowed=["habitation"])
# a COS that is a footprint ratio (« emprise »), and a CUS of floor area
E = dict(code="E", sector="E-1", label="Habitat économique (essai)", dominant_use="habitat", height_max_m=15.5,
         storeys_max=3, footprint_max_pct=80, cos_value=0.6, cos_meaning="emprise", cus_value=2.0,
         cus_meaning="plancher", min_plot_area_m2=200, min_frontage_m=10, setback_road_m=0, setback_side_m=0,
         setback_rear_m=3, continuous_frontage=True, uses_allowed=["habitation"])
# height tied to the road's width: H ≤ L + R
H = dict(code="H", sector="H-1", label="Immeubles (essai)", dominant_use="habitat collectif", height_max_m=20,
         storeys_max=5, footprint_max_pct=50, cus_value=3.0, cus_meaning="plancher", min_plot_area_m2=300,
         min_frontage_m=12, setback_road_m=4, setback_side_m=3, setback_rear_m=3, continuous_frontage=False,
         uses_allowed=["habitation"],
         conditional_rules=[{"parameter": "height_max_m", "formula": "road_width_plus_setback", "article": "H 7"}])

TRAPEZOID = shapely.Polygon([(X0 + x, Y0 + y) for x, y in ((130, 100), (150, 100), (150, 90), (130, 70))])
PARCELS = {
    "TF 201/E": box(10, 0, 20, 30),  # 20 × 30 on one road (VA): COS binds
    "TF 202/E": box(40, 0, 12, 30),  # narrow (VA): footprint × levels binds
    "TF 203/E": box(80, 0, 20, 25),  # corner of Rue principale and the Avenue (VA)
    "TF 204/E": box(130, 0, 15, 30),  # continuous frontage (CF)
    "TF 205/E": box(58, 0, 20, 30),  # crossed by the widening strip (VA)
    "TF 206/E": box(190, 0, 20, 30),  # split between CF and E at x = 200
    "TF 207/E": box(2, 0, 6, 40),  # 6 m wide: eaten whole by the side setbacks (VA)
    "TF 208/E": box(10, 90, 10, 10),  # 100 m², under the minimum plot area (VA)
    "TF 209/E": TRAPEZOID,  # irregular: a limit at 45° to the road (CF)
    "TF 210/E": box(310, 80, 20, 20),  # H ≤ L + R on the 10 m Rue nord (H)
}


def build(conn: psycopg.Connection) -> None:
    """Load the hand-built territory."""
    add_commune(conn, "ENV", box(-500, -500, 2000, 2000), "Enveloppe")
    plan_id = create_plan(conn, {"code": "PA-E", "kind": "PA", "name": "PA essai enveloppe", "status": "homologue",
                                 "status_date": "2010-01-01", "approval_act": "Décret essai",
                                 "commune_codes": ["ENV"]})
    conn.execute("UPDATE plans SET perimeter = ST_Multi(ST_GeomFromText(%s, 26191)) WHERE id = %s",
                 (box(-100, -100, 700, 400).wkt, plan_id))
    for spec, x0, x1 in ((VA, 0, 100), (CF, 112, 200), (E, 200, 300), (H, 300, 400)):
        _zone(conn, plan_id, spec, box(x0, 0, x1 - x0, 200))
    _prescription(conn, plan_id, "road_widening", box(55, 0, 24, 5), label="Élargissement de la rue principale à 30 m",
                  width_m=30, road_name="Rue principale")
    for name, geom, width in (("Rue principale", box(-100, -20, 600, 20), 20.0), ("Avenue", box(100, 0, 12, 200), 12.0),
                              ("Rue nord", box(0, 100, 500, 10), 10.0)):
        conn.execute("INSERT INTO roads (name, width_m, commune_code, geom) VALUES (%s, %s, 'ENV', "
                     "ST_Multi(ST_GeomFromText(%s, 26191)))", (name, width, geom.wkt))
    for ref, geom in PARCELS.items():
        number = int(ref.split()[1].split("/")[0])
        conn.execute("INSERT INTO parcels (ref_kind, ref_number, ref_suffix, ref_text, legal_area_m2, commune_code, "
                     "geom) VALUES ('TF', %s, 'E', %s, %s, 'ENV', ST_Multi(ST_GeomFromText(%s, 26191)))",
                     (number, ref, round(geom.area), geom.wkt))
    conn.commit()
