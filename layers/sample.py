"""Load the generated sample territory (data/generator.py) into the database, in one transaction."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb
from tqdm import tqdm

from data.generator import GENERATOR_VERSION, Table, Territory, generate
from gis.crs import STORAGE_SRID
from gis.errors import Conflict
from gis.geometry import to_ewkb_hex
from layers.bulk import bulk_deferral, copy_rows
from layers.plans import create_plan, ensure_perimeter, record_meta
from layers.provenance import code_version

SAMPLE_TABLES = ("parcel_owners", "parcels", "zones", "prescriptions", "sdau_zones", "plan_statuses", "plans",
                 "roads", "establishments", "communes", "imports")


@dataclass
class LoadSummary:
    """What the loader did."""

    skipped: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    generate_s: float = 0.0
    load_s: float = 0.0
    seed: int = 0
    checksums: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        """A French summary."""
        if self.skipped:
            return "territoire d'exemple déjà chargé : rien à faire"
        parts = ", ".join(f"{n} {k}" for k, n in self.counts.items())
        return (f"territoire d'exemple chargé (graine {self.seed}) : {parts}\n"
                f"génération {self.generate_s:.1f} s, chargement {self.load_s:.1f} s")


def _ewkb(geoms: np.ndarray) -> list[str]:
    return to_ewkb_hex(geoms, STORAGE_SRID)


def _copy_table(conn: psycopg.Connection, table: str, data: Table, extra: dict[str, list] | None = None,
                progress: bool = False) -> int:
    columns = dict(data.columns)
    if "attributes" in columns:
        columns["attributes"] = [Jsonb(v or {}) for v in columns["attributes"]]
    if "conditional_rules" in columns:
        columns["conditional_rules"] = [Jsonb(v or []) for v in columns["conditional_rules"]]
    for key in ("uses_allowed", "uses_forbidden", "uses_conditional"):
        if key in columns:
            columns[key] = [v or [] for v in columns[key]]
    columns.update(extra or {})
    names = list(columns)
    values = [columns[n] for n in names]
    if data.geoms is not None:
        names.append("geom")
        values.append(_ewkb(data.geoms))
    return copy_rows(conn, table, names, zip(*values, strict=True), total=len(values[0]), progress=progress,
                     desc=table)


def load_sample(conn: psycopg.Connection, n_parcels: int, seed: int, if_empty: bool = False, replace: bool = False,
                progress: bool = False) -> LoadSummary:
    """Generate and load the sample territory; refuse to mix it with existing data unless `replace`."""
    has_data = conn.execute("SELECT EXISTS (SELECT 1 FROM parcels) OR EXISTS (SELECT 1 FROM plans)").fetchone()[0]
    if has_data and if_empty:
        return LoadSummary(skipped=True)
    if has_data and not replace:
        raise Conflict("la base contient déjà des données : --replace efface tout avant de charger l'exemple")
    started = time.perf_counter()
    if progress:
        tqdm.write(f"urbasig : génération du territoire d'exemple ({n_parcels} parcelles, graine {seed})")
    territory = generate(n_parcels, seed)
    checksums = territory.checksums()
    generated = time.perf_counter()
    with conn.transaction():
        if replace:
            conn.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(
                sql.SQL(", ").join(sql.Identifier(t) for t in SAMPLE_TABLES)))
        counts = _write(conn, territory, progress)
        record_meta(conn, "sample", {"seed": seed, "parcels": n_parcels, "generator_version": GENERATOR_VERSION,
                                     "checksums": checksums, "code_version": code_version()})
    for table in ("parcels", "parcel_owners", "zones", "prescriptions", "roads", "establishments", "communes"):
        conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))
    conn.commit()
    return LoadSummary(counts=counts, generate_s=generated - started, load_s=time.perf_counter() - generated,
                       seed=seed, checksums=checksums)


def _write(conn: psycopg.Connection, territory: Territory, progress: bool) -> dict[str, int]:
    import_id = conn.execute(
        "INSERT INTO imports (layer, source_path, options, code_version) VALUES ('sample', 'urbasig sample-data', "
        "%s, %s) RETURNING id",
        (Jsonb({"seed": territory.seed, "parcels": territory.n_parcels}), code_version())).fetchone()[0]
    counts: dict[str, int] = {}

    def ids(n: int) -> list[int]:
        return [import_id] * n

    counts["communes"] = _copy_table(conn, "communes", territory.communes,
                                     {"import_id": ids(len(territory.communes))})
    counts["zones"] = counts["prescriptions"] = counts["sdau_zones"] = 0
    for plan in territory.plans:
        plan_id = create_plan(conn, dict(plan.spec), import_id)
        for attr, table in (("zones", "zones"), ("prescriptions", "prescriptions"), ("sdau", "sdau_zones")):
            data = getattr(plan, attr)
            if data is not None and len(data):
                counts[table] += _copy_table(conn, table, data, {"plan_id": [plan_id] * len(data),
                                                                  "import_id": ids(len(data))})
        ensure_perimeter(conn, plan_id, "sdau_zones" if plan.sdau is not None else "zones")
    counts["plans"] = len(territory.plans)
    n = len(territory.parcels)
    base = conn.execute("SELECT COALESCE(max(id), 0) FROM parcels").fetchone()[0]
    conn.execute("SELECT setval('parcels_id_seq', %s)", (base + n,))
    parcel_ids = list(range(base + 1, base + n + 1))
    deferred = bulk_deferral(conn, "parcels")  # one index build beats a million insertions
    for drop, _create in deferred:
        conn.execute(drop)
    counts["parcels"] = _copy_table(conn, "parcels", territory.parcels, {"id": parcel_ids, "import_id": ids(n)},
                                    progress=progress)
    if progress:
        tqdm.write("urbasig : index des parcelles")
    for _drop, create in deferred:
        conn.execute(create)
    owners = territory.owners
    owner_cols = {k: v for k, v in owners.columns.items() if k != "parcel_index"}
    owner_cols["parcel_id"] = [parcel_ids[i] for i in owners.columns["parcel_index"]]
    counts["parcel_owners"] = copy_rows(conn, "parcel_owners", list(owner_cols), zip(*owner_cols.values(), strict=True),
                                        total=len(owners), progress=progress, desc="propriétaires")
    counts["roads"] = _copy_table(conn, "roads", territory.roads, {"import_id": ids(len(territory.roads))})
    counts["establishments"] = _copy_table(conn, "establishments", territory.establishments,
                                           {"import_id": ids(len(territory.establishments))})
    conn.execute("UPDATE imports SET feature_count = %s, finished_at = clock_timestamp() WHERE id = %s",
                 (sum(counts.values()), import_id))
    return counts


def database_checksums(conn: psycopg.Connection) -> dict[str, str]:
    """MD5 of each layer as stored (geometry to the millimetre and attributes), for reproducibility checks."""
    queries = {
        "parcels": "SELECT md5(string_agg(concat_ws('|', land_ref, ref_text, legal_area_m2, commune_code, address, "
                   "ST_AsText(ST_SnapToGrid(geom, 0.001))), ',' ORDER BY id)) FROM parcels",
        "zones": "SELECT md5(string_agg(concat_ws('|', p.code, z.code, z.sector, z.storeys_max, z.height_max_m, "
                 "ST_AsText(ST_SnapToGrid(z.geom, 0.001))), ',' ORDER BY z.id)) FROM zones z JOIN plans p "
                 "ON p.id = z.plan_id",
        "prescriptions": "SELECT md5(string_agg(concat_ws('|', kind, code, label, "
                         "ST_AsText(ST_SnapToGrid(geom, 0.001))), ',' ORDER BY id)) FROM prescriptions",
        "owners": "SELECT md5(string_agg(concat_ws('|', parcel_id, full_name, id_number), ',' ORDER BY id)) "
                  "FROM parcel_owners",
    }
    return {name: conn.execute(q).fetchone()[0] for name, q in queries.items()}
