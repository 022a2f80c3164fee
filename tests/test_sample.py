"""The sample territory: deterministic, plausible, loaded once, personal data kept private."""

from __future__ import annotations

import numpy as np
import psycopg
import pytest
import shapely

from data.generator import generate
from gis.errors import Conflict
from layers.sample import database_checksums, load_sample

N = 3000


@pytest.fixture(scope="module")
def territory():
    return generate(N, 7)


def test_same_seed_same_checksums_other_seed_differs(territory):
    again = generate(N, 7)
    assert again.checksums() == territory.checksums()
    other = generate(N, 8)
    assert other.checksums()["parcels"] != territory.checksums()["parcels"]


def test_exact_parcel_count_valid_geometries_plausible_areas(territory):
    geoms = territory.parcels.geoms
    assert len(geoms) == N
    assert shapely.is_valid(geoms).all()
    areas = shapely.area(geoms)
    assert 150 < np.median(areas) < 1500 and areas.min() > 30
    # parcels of one block tile it: no two parcels overlap by more than digitising noise
    tree = shapely.STRtree(geoms)
    pairs = tree.query(geoms, predicate="overlaps")
    overlap = shapely.area(shapely.intersection(geoms[pairs[0]], geoms[pairs[1]]))
    assert overlap.max(initial=0) < 0.01


def test_titles_mix_kinds_and_writing_styles(territory):
    from gis.landref import parse_land_ref

    kinds = territory.parcels.columns["ref_kind"]
    assert {"TF", "R", "NI"} == set(kinds)
    texts = territory.parcels.columns["ref_text"]
    assert any(t.startswith("T.") for t in texts) and any(t.startswith("tf") for t in texts)
    for text, kind, number in zip(texts[:500], kinds, territory.parcels.columns["ref_number"], strict=False):
        ref = parse_land_ref(text)
        assert ref.kind == kind and ref.number == number


def test_two_versions_of_the_first_plan_with_changed_zoning(territory):
    codes = [p.spec["code"] for p in territory.plans]
    assert codes[:2] == ["PA-ANFA-2006", "PA-ANFA-2026"]
    old, new = territory.plans[0], territory.plans[1]
    assert (old.spec["status"], new.spec["status"]) == ("homologue", "enquete_publique")
    assert new.spec["replaces"] == "PA-ANFA-2006"
    changed = [a != b for a, b in zip(old.zones.columns["code"], new.zones.columns["code"], strict=True)]
    assert any(changed) and not all(changed)
    assert any(p.spec["kind"] == "SDAU" for p in territory.plans)
    assert len(territory.communes) >= 3


def test_every_kind_of_prescription_is_present(territory):
    kinds = {k for p in territory.plans if p.prescriptions for k in p.prescriptions.columns["kind"]}
    assert {"road_widening", "alignment", "new_road", "facility_reservation", "green_space", "flood_zone",
            "utility_corridor", "rail_setback", "heritage_perimeter"} <= kinds


def test_large_option_reaches_a_million_parcels_in_sixteen_arrondissements():
    big = generate(1_000_000, 42)
    assert len(big.parcels.geoms) == 1_000_000
    assert len(big.communes) == 16


def test_load_is_reproducible_and_not_repeated(make_db, territory):
    first, second = make_db(), make_db()
    with psycopg.connect(first) as conn:
        summary = load_sample(conn, N, 7)
        assert summary.counts["parcels"] == N
        assert load_sample(conn, N, 7, if_empty=True).skipped
        with pytest.raises(Conflict):
            load_sample(conn, N, 7)
        stored = conn.execute("SELECT value FROM meta WHERE key = 'sample'").fetchone()[0]
        assert stored["checksums"] == territory.checksums()  # generate(N, 7), made once for the module
        sums_first = database_checksums(conn)
    with psycopg.connect(second) as conn:
        load_sample(conn, N, 7)
        assert database_checksums(conn) == sums_first


def test_loaded_territory_has_straddling_parcels_and_slivers(conn):
    load_sample(conn, N, 7)
    shares = conn.execute("""
        SELECT ST_Area(ST_Intersection(p.geom, z.geom)) / p.area_m2 FROM parcels p
        JOIN zones z ON ST_Intersects(p.geom, z.geom)
        JOIN plans pl ON pl.id = z.plan_id AND pl.code = 'PA-ANFA-2006'
        WHERE p.commune_code = 'ANFA'""").fetchall()
    shares = np.array([s for (s,) in shares])
    assert ((shares > 0.05) & (shares < 0.95)).sum() > 5  # real splits between two zones
    assert ((shares > 0) & (shares < 0.03)).sum() >= 2  # slivers from digitising
    counts = dict(conn.execute("SELECT kind, count(*) FROM establishments GROUP BY kind").fetchall())
    assert counts["pharmacy"] >= 3 and counts["school"] >= 3
    assert conn.execute("SELECT count(*) FROM parcels WHERE commune_code IS NULL").fetchone()[0] == 0


def test_replace_reloads_and_owners_stay_private(conn):
    load_sample(conn, N, 7)
    load_sample(conn, N, 9, replace=True)
    assert conn.execute("SELECT value->>'seed' FROM meta WHERE key = 'sample'").fetchone()[0] == "9"
    assert conn.execute("SELECT count(*) FROM parcels").fetchone()[0] == N
    assert conn.execute("SELECT count(*) FROM parcel_owners").fetchone()[0] > N * 0.8
    conn.commit()
    conn.execute("SET ROLE urbasig_public")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT full_name FROM parcel_owners")


def test_a_small_sample_loads(db_url):
    """The smallest sample a developer loads (300 parcels) holds exactly that many (was in the tile tests)."""
    with psycopg.connect(db_url) as conn:
        assert load_sample(conn, 300, 1).counts["parcels"] == 300
