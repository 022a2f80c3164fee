"""Import throughput: `urbasig import` of a 100,000-parcel GeoPackage beside `ogr2ogr -f PostgreSQL`.

Usage: .venv/bin/python bench/import_throughput.py [N] [RUNS]   (default 100000 parcels, 3 runs each)
Both load the same file into an empty table of a fresh database of the project's PostGIS, alternating,
and the medians are compared. ogr2ogr uses its defaults (COPY, GiST index built at the end). urbasig
also parses and normalises every land title, validates every geometry, checks the CRS against the
coordinates, checks commune codes and records provenance.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import geopandas as gpd
import psycopg
from _common import median, scratch_db, table, timed

from data.generator import generate
from layers.imports import ImportRequest, run_import
from layers.sample import _copy_table


def make_file(n: int, path: Path) -> None:
    """A cadastre GeoPackage as a surveyor would deliver it."""
    t = generate(n, 42)
    cols = t.parcels.columns
    frame = gpd.GeoDataFrame({"land_ref": cols["ref_text"], "legal_area_m2": cols["legal_area_m2"],
                              "address": cols["address"], "commune_code": cols["commune_code"]},
                             geometry=list(t.parcels.geoms), crs="EPSG:26191")
    frame.to_file(path, layer="parcelles", driver="GPKG", engine="pyogrio")
    return t


def ogr_connection(url: str) -> str:
    parts = urlsplit(url)
    return (f"PG:host={parts.hostname} port={parts.port} dbname={parts.path.lstrip('/')} "
            f"user={parts.username} password={parts.password}")


def main(n: int, runs: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="urbasig-bench-"))
    path = tmp / "parcelles.gpkg"
    territory = make_file(n, path)
    print(f"fichier : {path} ({path.stat().st_size / 1e6:.0f} Mo, {n} parcelles)", flush=True)
    ours: list[float] = []
    ogr: list[float] = []
    for run in range(runs):
        with scratch_db("urbasig_bench_import") as url, psycopg.connect(url) as conn:
            _copy_table(conn, "communes", territory.communes)
            conn.commit()
            with timed(ours):
                result = run_import(conn, ImportRequest(path=path, layer="parcels"))
            assert result.count == n
        with scratch_db("urbasig_bench_ogr", migrated=False) as url:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("CREATE EXTENSION postgis")
            with timed(ogr):
                subprocess.run(["ogr2ogr", "-f", "PostgreSQL", ogr_connection(url), str(path), "-nln", "parcels_ogr",
                                "-lco", "GEOMETRY_NAME=geom"], check=True, env=dict(os.environ, PG_USE_COPY="YES"))
            with psycopg.connect(url) as conn:
                assert conn.execute("SELECT count(*) FROM parcels_ogr").fetchone()[0] == n
        print(f"  essai {run + 1} : urbasig {ours[-1]:.2f} s, ogr2ogr {ogr[-1]:.2f} s", flush=True)
    rows = [["urbasig import", f"{median(ours):.2f}", f"{n / median(ours):,.0f}".replace(",", " ")],
            ["ogr2ogr -f PostgreSQL", f"{median(ogr):.2f}", f"{n / median(ogr):,.0f}".replace(",", " ")]]
    print()
    print(table(rows, ["chargeur", "médiane s", "entités/s"]))
    print(f"rapport urbasig / ogr2ogr (débit) : {median(ogr) / median(ours):.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000, int(sys.argv[2]) if len(sys.argv) > 2 else 3)
