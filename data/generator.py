"""Deterministic generation of the sample territory, in memory (loading is data/load.py).

The same seed and parcel count give byte-identical layers (see `Territory.checksums`). Geometry is built
with vectorised numpy and shapely: a street grid whose blocks are cut into two rows of parcels, then
arrondissements along streets, plan zones whose limits sometimes follow streets, sometimes run a metre
off the block edge (slivers from imprecise digitising) and sometimes cut through blocks (parcels that
straddle two zones), road widenings with their alignment lines, reservations, green spaces, servitudes,
an SDAU, and a registry of pharmacies, schools and mosques.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import shapely

from data.sources import (
    ARCHETYPES,
    ARRONDISSEMENTS,
    FACILITIES,
    FIRST_NAMES,
    LAST_NAMES,
    STREET_WORDS,
    ZONE_TYPES,
)

GENERATOR_VERSION = "1"
ORIGIN = (284_000.0, 322_000.0)  # south-west corner of the grid, EPSG:26191 (Casablanca)
ROTATION_DEG = 18.0  # the street grid is not north-aligned
PARCELS_PER_BLOCK_GUESS = 11.0


@dataclass
class Table:
    """Columns of one layer (equal-length lists) and, for spatial layers, a geometry array."""

    columns: dict[str, list]
    geoms: np.ndarray | None = None

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else len(self.geoms)

    def checksum(self) -> str:
        """SHA-256 of every attribute and of the geometries (types, vertex counts, coordinates to the mm)."""
        digest = hashlib.sha256()
        for name in sorted(self.columns):
            digest.update(name.encode())
            digest.update(repr(list(self.columns[name])).encode())
        if self.geoms is not None:
            digest.update(shapely.get_type_id(self.geoms).astype(np.int8).tobytes())
            digest.update(shapely.get_num_coordinates(self.geoms).astype(np.int32).tobytes())
            coords = np.round(shapely.get_coordinates(self.geoms) * 1000).astype(np.int64)
            digest.update(coords.tobytes())
        return digest.hexdigest()


@dataclass
class PlanVersion:
    """A plan version and its features."""

    spec: dict
    zones: Table | None = None
    prescriptions: Table | None = None
    sdau: Table | None = None


@dataclass
class Territory:
    """Everything the sample loader writes."""

    seed: int
    n_parcels: int
    communes: Table
    parcels: Table
    owners: Table
    roads: Table
    establishments: Table
    plans: list[PlanVersion] = field(default_factory=list)

    def checksums(self) -> dict[str, str]:
        """One checksum per layer (the determinism contract of the generator)."""
        out = {name: getattr(self, name).checksum() for name in ("communes", "parcels", "owners", "roads",
                                                                    "establishments")}
        for plan in self.plans:
            for kind in ("zones", "prescriptions", "sdau"):
                table = getattr(plan, kind)
                if table is not None:
                    out[f"{plan.spec['code']}/{kind}"] = table.checksum()
        return out


# ----------------------------------------------------------------------------------------- the grid
@dataclass
class Grid:
    """Street lines and blocks, in grid coordinates (before rotation)."""

    sx0: np.ndarray  # vertical streets: x of west edge (ncols + 1)
    sx1: np.ndarray  # x of east edge
    sy0: np.ndarray  # horizontal streets: y of south edge (nrows + 1)
    sy1: np.ndarray
    vwidth: np.ndarray
    hwidth: np.ndarray
    vnames: list[str]
    hnames: list[str]

    @property
    def ncols(self) -> int:
        """Number of block columns between the north–south streets."""
        return len(self.sx0) - 1

    @property
    def nrows(self) -> int:
        """Number of block rows between the east–west streets."""
        return len(self.sy0) - 1


def _street_widths(rng: np.random.Generator, n: int) -> np.ndarray:
    widths = rng.choice([10.0, 12.0, 15.0, 20.0], size=n, p=[0.3, 0.35, 0.25, 0.1])
    widths[:: 6] = 30.0  # an avenue every sixth street
    return widths


def _positions(rng: np.random.Generator, n_blocks: int, lo: float, hi: float, widths: np.ndarray):
    sizes = rng.uniform(lo, hi, n_blocks).round(1)
    start = np.empty(n_blocks + 1)
    end = np.empty(n_blocks + 1)
    pos = 0.0
    for i in range(n_blocks + 1):
        start[i], end[i] = pos, pos + widths[i]
        pos = end[i] + (sizes[i] if i < n_blocks else 0.0)
    return start, end


def _street_names(rng: np.random.Generator, widths: np.ndarray, offset: int) -> list[str]:
    names = []
    for i, width in enumerate(widths):
        word = STREET_WORDS[(i * 7 + offset) % len(STREET_WORDS)]
        kind = "Boulevard" if width >= 30 else ("Avenue" if width >= 20 else "Rue")
        names.append(f"{kind} {word}" if i < len(STREET_WORDS) else f"{kind} {i + offset}")
    rng.shuffle(names)  # deterministic with the generator
    return names


def make_grid(rng: np.random.Generator, ncols: int, nrows: int) -> Grid:
    """A street grid of ncols × nrows blocks."""
    vwidth = _street_widths(rng, ncols + 1)
    hwidth = _street_widths(rng, nrows + 1)
    sx0, sx1 = _positions(rng, ncols, 110.0, 170.0, vwidth)
    sy0, sy1 = _positions(rng, nrows, 56.0, 84.0, hwidth)
    return Grid(sx0, sx1, sy0, sy1, vwidth, hwidth, _street_names(rng, vwidth, 3), _street_names(rng, hwidth, 11))


# ---------------------------------------------------------------------------------- arrondissements
@dataclass
class Arr:
    """An arrondissement: block columns [c0, c1) and rows [r0, r1) of the grid."""

    index: int
    code: str
    name: str
    prefecture: str
    suffix: str
    c0: int
    c1: int
    r0: int
    r1: int
    box: tuple[float, float, float, float] = (0, 0, 0, 0)


def split_arrondissements(grid: Grid, n_parcels: int) -> list[Arr]:
    """Arrondissements along streets: 3 side by side, or 4×2 / 4×4 for large territories."""
    cols, rows = (3, 1) if n_parcels < 100_000 else ((4, 2) if n_parcels < 400_000 else (4, 4))
    cbreaks = np.linspace(0, grid.ncols, cols + 1).round().astype(int)
    rbreaks = np.linspace(0, grid.nrows, rows + 1).round().astype(int)
    arrs = []
    for j in range(rows):
        for i in range(cols):
            k = j * cols + i
            code, name, prefecture, suffix = ARRONDISSEMENTS[k]
            c0, c1, r0, r1 = cbreaks[i], cbreaks[i + 1], rbreaks[j], rbreaks[j + 1]
            # limits on street centrelines, the outer limits on the outer edge of the outer streets
            x0 = grid.sx0[c0] if c0 == 0 else (grid.sx0[c0] + grid.sx1[c0]) / 2
            x1 = grid.sx1[c1] if c1 == grid.ncols else (grid.sx0[c1] + grid.sx1[c1]) / 2
            y0 = grid.sy0[r0] if r0 == 0 else (grid.sy0[r0] + grid.sy1[r0]) / 2
            y1 = grid.sy1[r1] if r1 == grid.nrows else (grid.sy0[r1] + grid.sy1[r1]) / 2
            arrs.append(Arr(k, code, name, prefecture, suffix, c0, c1, r0, r1, (x0, y0, x1, y1)))
    return arrs


# ------------------------------------------------------------------------------------------- zoning
def _breaks(rng: np.random.Generator, lo: float, hi: float, s0: np.ndarray, s1: np.ndarray, first: int, last: int,
            mid_back: np.ndarray | None = None) -> list[float]:
    """Zone limits along one axis: on a street, 0.2–1.5 m off a block edge (sliver), or through a block."""
    out = [lo]
    i = first + int(rng.integers(2, 5))
    while i < last:
        kind = rng.choice(3, p=[0.6, 0.25, 0.15])
        if kind == 0:
            out.append(float((s0[i] + s1[i]) / 2))
        elif kind == 1:
            jitter = rng.uniform(0.2, 1.5) * rng.choice([-1.0, 1.0])
            out.append(float(s1[i] + jitter))
        else:  # through the block that starts after street i
            block_end = s0[i + 1] if i + 1 < len(s0) else s1[i] + 60
            out.append(float(s1[i] + (block_end - s1[i]) * rng.uniform(0.3, 0.7)))
        i += int(rng.integers(2, 6))
    out.append(hi)
    return out


@dataclass
class Zoning:
    """A rectilinear partition of one arrondissement into zone cells."""

    xb: list[float]
    yb: list[float]
    codes: np.ndarray  # (len(yb)-1, len(xb)-1)


def make_zoning(rng: np.random.Generator, grid: Grid, arr: Arr) -> Zoning:
    """Cells with zone codes drawn from the arrondissement's archetype."""
    x0, y0, x1, y1 = arr.box
    xb = _breaks(rng, x0, x1, grid.sx0, grid.sx1, arr.c0, arr.c1)
    yb = _breaks(rng, y0, y1, grid.sy0, grid.sy1, arr.r0, arr.r1)
    weights = ARCHETYPES[arr.index % len(ARCHETYPES)]
    codes = rng.choice(list(weights), size=(len(yb) - 1, len(xb) - 1), p=list(weights.values()))
    return Zoning(xb, yb, codes)


def zone_at(zoning: Zoning, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Zone code at points (vectorised)."""
    i = np.clip(np.searchsorted(zoning.xb, x) - 1, 0, len(zoning.xb) - 2)
    j = np.clip(np.searchsorted(zoning.yb, y) - 1, 0, len(zoning.yb) - 2)
    return zoning.codes[j, i]


def zoning_table(zoning: Zoning, sector_rng: np.random.Generator) -> tuple[list[dict], list]:
    """Zone features (one per cell) with the regulations of their type."""
    rows, geoms = [], []
    for j in range(len(zoning.yb) - 1):
        for i in range(len(zoning.xb) - 1):
            code = str(zoning.codes[j, i])
            spec = {k: v for k, v in ZONE_TYPES[code].items() if k != "frontage"}
            sector = f"{code}-{int(sector_rng.integers(1, 4))}"
            rows.append({"code": code, "sector": sector, **spec,
                         "regulation_article": f"Chapitre {code}, articles 1 à 14",
                         "regulation_text": _regulation_text(code, spec)})
            geoms.append(shapely.box(zoning.xb[i], zoning.yb[j], zoning.xb[i + 1], zoning.yb[j + 1]))
    return rows, geoms


def _regulation_text(code: str, spec: dict) -> str:
    parts = [f"Zone {code} — {spec['label']}. Vocation : {spec['dominant_use']}."]
    if spec.get("storeys_max"):
        parts.append(f"Hauteur maximale : {spec['height_max_m']} m, soit R+{spec['storeys_max']}.")
    else:
        parts.append("Toute construction y est interdite, hormis les édicules liés à l'usage de la zone.")
    if spec.get("footprint_max_pct"):
        parts.append(f"Emprise au sol : {spec['footprint_max_pct']} % au plus de la superficie du lot.")
    if spec.get("min_plot_area_m2"):
        parts.append(f"Lot minimal : {spec['min_plot_area_m2']} m², façade minimale {spec['min_frontage_m']} m.")
    if spec.get("setback_road_m") is not None and spec.get("storeys_max"):
        parts.append(f"Reculs : {spec['setback_road_m']} m sur voie, {spec['setback_side_m']} m sur limites "
                     f"séparatives, {spec['setback_rear_m']} m en fond de parcelle.")
    return " ".join(parts)


# ------------------------------------------------------------------------------------------ parcels
def make_parcels(rng: np.random.Generator, grid: Grid, arrs: list[Arr], zonings: list[Zoning]):
    """Cut every block into two rows of parcels whose frontage follows the zone; returns arrays."""
    ncols, nrows = grid.ncols, grid.nrows
    bx0 = np.tile(grid.sx1[:-1], nrows)
    bx1 = np.tile(grid.sx0[1:], nrows)
    by0 = np.repeat(grid.sy1[:-1], ncols)
    by1 = np.repeat(grid.sy0[1:], ncols)
    col = np.tile(np.arange(ncols), nrows)
    row = np.repeat(np.arange(nrows), ncols)
    arr_of = np.empty(len(bx0), dtype=int)
    for a in arrs:
        arr_of[(col >= a.c0) & (col < a.c1) & (row >= a.r0) & (row < a.r1)] = a.index
    ym = by0 + (by1 - by0) * rng.uniform(0.42, 0.58, len(bx0))
    # two rows per block: south row fronts street `row`, north row fronts street `row + 1`
    r_x0, r_x1 = np.repeat(bx0, 2), np.repeat(bx1, 2)
    r_y0 = np.column_stack([by0, ym]).ravel()
    r_y1 = np.column_stack([ym, by1]).ravel()
    r_arr = np.repeat(arr_of, 2)
    r_street = np.column_stack([row, row + 1]).ravel()
    r_north = np.tile([False, True], len(bx0))
    cx, cy = (r_x0 + r_x1) / 2, (r_y0 + r_y1) / 2
    codes = np.empty(len(r_x0), dtype=object)
    for a in arrs:
        mask = r_arr == a.index
        codes[mask] = zone_at(zonings[a.index], cx[mask], cy[mask])
    fmin = np.array([ZONE_TYPES[c]["frontage"][0] for c in codes])
    fmax = np.array([ZONE_TYPES[c]["frontage"][1] for c in codes])
    width = r_x1 - r_x0
    kmax = int(np.ceil((width / fmin).max())) + 1
    draws = fmin[:, None] + (fmax - fmin)[:, None] * rng.random((len(r_x0), kmax))
    cuts = np.cumsum(draws, axis=1)
    # keep cuts that leave at least 60 % of the minimum frontage before the block end
    keep = cuts < (width - 0.6 * fmin)[:, None]
    counts = keep.sum(axis=1) + 1
    n_total = int(counts.sum())
    # each parcel: its row, its index in the row, x0/x1 from the cuts (last one ends at the block edge)
    p_row = np.repeat(np.arange(len(r_x0)), counts)
    first = np.cumsum(counts) - counts
    p_k = np.arange(n_total) - np.repeat(first, counts)
    padded = np.concatenate([np.zeros((len(r_x0), 1)), np.where(keep, cuts, np.inf)], axis=1)
    left = padded[p_row, p_k]
    right = np.where(p_k + 1 < counts[p_row], padded[p_row, np.minimum(p_k + 1, kmax)], width[p_row])
    # digitised cut lines are slightly skewed: shared by neighbours, so parcels still tile the block
    skew_s = rng.uniform(-0.8, 0.8, (len(r_x0), kmax + 1))
    skew_n = rng.uniform(-0.8, 0.8, (len(r_x0), kmax + 1))
    skew_s[:, 0] = skew_n[:, 0] = 0.0
    last = p_k + 1 == counts[p_row]
    ls, ln = skew_s[p_row, p_k], skew_n[p_row, p_k]
    rs = np.where(last, 0.0, skew_s[p_row, np.minimum(p_k + 1, kmax)])
    rn = np.where(last, 0.0, skew_n[p_row, np.minimum(p_k + 1, kmax)])
    x0, y0, y1 = r_x0[p_row], r_y0[p_row], r_y1[p_row]
    coords = np.empty((n_total, 5, 2))
    coords[:, 0] = np.column_stack([x0 + left + ls, y0])
    coords[:, 1] = np.column_stack([x0 + right + rs, y0])
    coords[:, 2] = np.column_stack([x0 + right + rn, y1])
    coords[:, 3] = np.column_stack([x0 + left + ln, y1])
    coords[:, 4] = coords[:, 0]
    return {
        "coords": coords.round(2),
        "arr": r_arr[p_row],
        "street": r_street[p_row],
        "north": r_north[p_row],
        "k": p_k,
        "code": codes[p_row],
    }


# ------------------------------------------------------------------------------------ prescriptions
def _rect(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    return shapely.box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def make_prescriptions(rng: np.random.Generator, grid: Grid, arr: Arr, new_version: bool = False):
    """Road widenings and alignments, a new road, reservations and green spaces of one plan."""
    x0, y0, x1, y1 = arr.box
    rows, geoms = [], []

    def add(kind: str, geom, **attrs):
        rows.append({"kind": kind, "code": attrs.pop("code", None), "label": attrs.pop("label", None),
                     "width_m": attrs.pop("width_m", None), "facility_code": attrs.pop("facility_code", None),
                     "facility_label": attrs.pop("facility_label", None), "road_name": attrs.pop("road_name", None),
                     "attributes": attrs})
        geoms.append(geom)

    for r in range(arr.r0 + 1, arr.r1):  # horizontal streets inside the arrondissement
        if rng.random() < 0.14:
            strip = float(rng.choice([3.0, 4.0, 5.0, 7.5]))
            north = rng.random() < 0.5
            edge = grid.sy1[r] if north else grid.sy0[r]
            new_edge = edge + strip if north else edge - strip
            planned = float(grid.hwidth[r] + strip)
            name = grid.hnames[r]
            add("road_widening", _rect(x0, edge, x1, new_edge), label=f"Élargissement de {name} à {planned:g} m",
                width_m=planned, road_name=name, strip_m=strip, side="nord" if north else "sud")
            add("alignment", shapely.LineString([(x0, new_edge), (x1, new_edge)]),
                label=f"Alignement de {name}", width_m=planned, road_name=name)
    for c in range(arr.c0 + 1, arr.c1):  # vertical streets
        if rng.random() < 0.08:
            strip = float(rng.choice([3.0, 5.0]))
            edge = grid.sx1[c]
            planned = float(grid.vwidth[c] + strip)
            name = grid.vnames[c]
            add("road_widening", _rect(edge, y0, edge + strip, y1), label=f"Élargissement de {name} à {planned:g} m",
                width_m=planned, road_name=name, strip_m=strip, side="est")
            add("alignment", shapely.LineString([(edge + strip, y0), (edge + strip, y1)]),
                label=f"Alignement de {name}", width_m=planned, road_name=name)
    n_new = 1 + int(new_version)
    for _ in range(n_new):  # a new road through blocks
        c = int(rng.integers(arr.c0, arr.c1))
        r = int(rng.integers(arr.r0, max(arr.r0 + 1, arr.r1 - 4)))
        xm = float(grid.sx1[c] + (grid.sx0[c + 1] - grid.sx1[c]) * rng.uniform(0.35, 0.65))
        width = float(rng.choice([15.0, 20.0]))
        ytop = grid.sy0[min(r + int(rng.integers(2, 5)), arr.r1)]
        add("new_road", _rect(xm - width / 2, grid.sy1[r], xm + width / 2, ytop), label=f"Voie projetée de {width:g} m",
            width_m=width, code=f"VP{len(rows)}")
    n_blocks = (arr.c1 - arr.c0) * (arr.r1 - arr.r0)
    for _ in range(max(2, n_blocks // 45)):  # facility reservations on block corners
        c = int(rng.integers(arr.c0, arr.c1))
        r = int(rng.integers(arr.r0, arr.r1))
        code, label = FACILITIES[int(rng.integers(len(FACILITIES)))]
        bx0, by0, by1 = grid.sx1[c], grid.sy1[r], grid.sy0[r + 1]
        add("facility_reservation", _rect(bx0, by0, bx0 + rng.uniform(35, 60), by0 + (by1 - by0) / 2),
            code=f"{code}{len(rows)}", facility_code=code, facility_label=label, label=f"Réservé : {label}")
    for _ in range(max(1, n_blocks // 120)):  # green spaces on half blocks
        c = int(rng.integers(arr.c0, arr.c1))
        r = int(rng.integers(arr.r0, arr.r1))
        by0, by1 = grid.sy1[r], grid.sy0[r + 1]
        add("green_space", _rect(grid.sx1[c], (by0 + by1) / 2, grid.sx0[c + 1], by1), code="EV",
            facility_code="EV", label="Espace vert public")
    return rows, geoms


def make_servitudes(grid: Grid, seed_rng: np.random.Generator, arrs: list[Arr]):
    """Territory-wide servitudes, clipped later to each plan: flood zone, power line, railway, heritage."""
    W, H = grid.sx1[-1], grid.sy1[-1]
    xs = np.linspace(0, W, 200)
    phase = seed_rng.uniform(0, math.tau)
    oued = shapely.LineString(np.column_stack([xs, H * 0.55 + H * 0.12 * np.sin(xs / W * math.tau * 1.5 + phase)]))
    power = shapely.LineString([(0, H * 0.15), (W, H * 0.9)])
    rail = shapely.LineString([(0, H * 0.08), (W, H * 0.12)])
    centre = arrs[min(2, len(arrs) - 1)].box
    heritage = shapely.Point((centre[0] + centre[2]) / 2, (centre[1] + centre[3]) / 2).buffer(350, quad_segs=16)
    return [
        ({"kind": "flood_zone", "code": "PPRI", "label": "Zone inondable de l'oued (crue centennale)",
          "attributes": {"aléa": "fort"}}, oued.buffer(60, quad_segs=4)),
        ({"kind": "utility_corridor", "code": "HT225", "label": "Couloir de ligne électrique 225 kV",
          "width_m": 40.0, "attributes": {"tension_kv": 225}}, power.buffer(20, cap_style="flat")),
        ({"kind": "rail_setback", "code": "ONCF", "label": "Servitude de recul ferroviaire (20 m)",
          "width_m": 40.0, "attributes": {"recul_m": 20}}, rail.buffer(20, cap_style="flat")),
        ({"kind": "heritage_perimeter", "code": "PAT1", "label": "Périmètre patrimonial de l'ancienne médina",
          "attributes": {"protection": "inscription"}}, heritage),
    ]


# -------------------------------------------------------------------------------------- the territory
def _rotate(geoms: np.ndarray, centre: tuple[float, float]) -> np.ndarray:
    """Rotate around `centre` and move to the Casablanca origin (one affine map for every layer)."""
    angle = math.radians(ROTATION_DEG)
    cos, sin = math.cos(angle), math.sin(angle)
    cx, cy = centre

    def _apply(c: np.ndarray) -> np.ndarray:
        x, y = c[:, 0] - cx, c[:, 1] - cy
        return np.column_stack([ORIGIN[0] + cx + x * cos - y * sin, ORIGIN[1] + cy + x * sin + y * cos])

    return shapely.transform(np.asarray(geoms, dtype=object), _apply)


def _table(rows: list[dict], geoms: list, keys: list[str]) -> Table:
    return Table({k: [r.get(k) for r in rows] for k in keys}, np.asarray(geoms, dtype=object))


ZONE_KEYS = ["code", "sector", "label", "dominant_use", "height_max_m", "storeys_max", "footprint_max_pct",
             "cos_value", "cos_meaning", "cus_value", "cus_meaning", "min_plot_area_m2", "min_frontage_m",
             "setback_road_m", "setback_side_m", "setback_rear_m", "continuous_frontage", "uses_allowed",
             "uses_forbidden", "uses_conditional", "conditional_rules", "regulation_article", "regulation_text"]
PRESCRIPTION_KEYS = ["kind", "code", "label", "width_m", "facility_code", "facility_label", "road_name", "attributes"]


def generate(n_parcels: int = 20_000, seed: int = 42) -> Territory:
    """Generate the territory with exactly `n_parcels` parcels."""
    if n_parcels < 100:
        raise ValueError("au moins 100 parcelles")
    blocks = n_parcels / PARCELS_PER_BLOCK_GUESS * 1.04
    ncols = max(9, round(math.sqrt(blocks * 70 / 140)))
    nrows = max(3, math.ceil(blocks / ncols))
    while True:
        rng = np.random.default_rng([seed, n_parcels, nrows])
        grid = make_grid(rng, ncols, nrows)
        arrs = split_arrondissements(grid, n_parcels)
        zonings = [make_zoning(rng, grid, a) for a in arrs]
        cells = make_parcels(rng, grid, arrs, zonings)
        if len(cells["coords"]) >= n_parcels:
            break
        nrows = math.ceil(nrows * n_parcels / len(cells["coords"]) * 1.02)
    # drop the surplus at random: those pieces of land have no cadastral parcel (unsurveyed public land)
    surplus = len(cells["coords"]) - n_parcels
    keep = np.sort(rng.choice(len(cells["coords"]), size=n_parcels, replace=False)) if surplus else np.arange(
        n_parcels)
    cells = {k: v[keep] for k, v in cells.items()}
    centre = (grid.sx1[-1] / 2, grid.sy1[-1] / 2)

    communes = _make_communes(arrs, centre)
    parcels, owners = _make_parcels(rng, grid, arrs, cells, centre)
    roads = _make_roads(grid, arrs, centre)
    plans = _make_plans(rng, grid, arrs, zonings, centre)
    establishments = _make_establishments(rng, parcels, arrs)
    return Territory(seed, n_parcels, communes, parcels, owners, roads, establishments, plans)


def _make_communes(arrs: list[Arr], centre) -> Table:
    geoms = _rotate(_multi([shapely.box(*a.box) for a in arrs]), centre)
    return Table({"code": [a.code for a in arrs], "name": [a.name for a in arrs],
                  "kind": ["arrondissement"] * len(arrs), "prefecture": [a.prefecture for a in arrs],
                  "prefecture_kind": ["préfecture"] * len(arrs)}, geoms)


def _make_parcels(rng: np.random.Generator, grid: Grid, arrs: list[Arr], cells: dict, centre):
    n = len(cells["coords"])
    polys = shapely.polygons(cells["coords"])
    geoms = _rotate(shapely.multipolygons(polys, indices=np.arange(n)), centre)
    areas = shapely.area(geoms)
    kind_draw = rng.random(n)
    kinds = np.where(kind_draw < 0.85, "TF", np.where(kind_draw < 0.93, "R", "NI"))
    numbers = rng.choice(np.arange(1_000, 1_000 + 4 * n + 50_000), size=n, replace=False)
    suffix = np.array([a.suffix for a in arrs])[cells["arr"]]
    style = rng.random(n)
    texts, ref_numbers, ref_suffixes = [], [], []
    for i in range(n):
        kind, num, suf = kinds[i], int(numbers[i]), str(suffix[i])
        if kind == "NI":
            texts.append("non immatriculé" if style[i] < 0.7 else "NI")
            ref_numbers.append(None)
            ref_suffixes.append(None)
            continue
        ref_numbers.append(num)
        ref_suffixes.append(suf)
        if kind == "R":
            texts.append(f"R {num}/{suf}" if style[i] < 0.7 else f"Réq. {num}/{suf}")
        elif style[i] < 0.6:
            texts.append(f"TF {num}/{suf}")
        elif style[i] < 0.8:
            texts.append(f"T.{num}/{suf}")
        elif style[i] < 0.9:
            texts.append(f"T.F. n° {num}/{suf}")
        else:
            texts.append(f"tf{num}-{suf.lower()}")
    legal = np.round(areas * (1 + rng.normal(0, 0.012, n)))
    legal_area = [None if kinds[i] == "NI" or (kinds[i] == "R" and style[i] > 0.8) else float(legal[i])
                  for i in range(n)]
    names = np.array(grid.hnames, dtype=object)
    street_names = names[cells["street"]]
    numbers_on_street = 2 * cells["k"] + np.where(cells["north"], 2, 1)
    addresses = [f"{num}, {street}" for num, street in zip(numbers_on_street.tolist(), street_names, strict=True)]
    codes = np.array([a.code for a in arrs])[cells["arr"]]
    parcels = Table({"ref_kind": kinds.tolist(), "ref_number": ref_numbers, "ref_suffix": ref_suffixes,
                     "ref_text": texts, "legal_area_m2": legal_area, "commune_code": codes.tolist(),
                     "address": addresses}, geoms)
    # owners (personal data, fictitious): 1 to 3 per titled parcel
    titled = np.flatnonzero(kinds != "NI")
    per = rng.choice([1, 1, 1, 2, 3], size=len(titled))
    parcel_idx = np.repeat(titled, per)
    m = len(parcel_idx)
    first = rng.integers(len(FIRST_NAMES), size=m)
    last = rng.integers(len(LAST_NAMES), size=m)
    cin = rng.integers(10_000, 999_999, size=m)
    letters = rng.choice(["B", "BE", "BK", "BH", "BJ"], size=m)
    shares = np.repeat(per, per)
    owners = Table({
        "parcel_index": parcel_idx.tolist(),
        "full_name": [f"{FIRST_NAMES[a]} {LAST_NAMES[b]}" for a, b in zip(first, last, strict=True)],
        "id_number": [f"{p}{c}" for p, c in zip(letters, cin, strict=True)],
        "share": ["1/1" if s == 1 else f"1/{s}" for s in shares],
    })
    return parcels, owners


def _make_roads(grid: Grid, arrs: list[Arr], centre) -> Table:
    rows, geoms = [], []
    for a in arrs:
        x0, y0, x1, y1 = a.box
        for r in range(a.r0, a.r1 + 1):
            rows.append({"name": grid.hnames[r], "width_m": float(grid.hwidth[r]), "commune_code": a.code})
            geoms.append(shapely.box(x0, max(y0, grid.sy0[r]), x1, min(y1, grid.sy1[r])))
        for c in range(a.c0, a.c1 + 1):
            rows.append({"name": grid.vnames[c], "width_m": float(grid.vwidth[c]), "commune_code": a.code})
            geoms.append(shapely.box(max(x0, grid.sx0[c]), y0, min(x1, grid.sx1[c]), y1))
    keep = [i for i, g in enumerate(geoms) if g.area > 1.0]
    rows = [rows[i] for i in keep]
    geoms = shapely.multipolygons(_rotate([geoms[i] for i in keep], centre), indices=np.arange(len(keep)))
    return _table(rows, geoms, ["name", "width_m", "commune_code"])


def _multi(geoms) -> np.ndarray:
    """Polygons as MultiPolygons, lines as they are (prescriptions hold both)."""
    out = np.asarray(geoms, dtype=object)
    poly = shapely.get_type_id(out) == 3
    out[poly] = shapely.multipolygons(out[poly], indices=np.arange(int(poly.sum()))) if poly.any() else out[poly]
    return out


def _add_servitudes(servitudes: list, a: Arr, rows: list[dict], geoms: list) -> None:
    """Clip the territory-wide servitudes to an arrondissement's plan."""
    perimeter = shapely.box(*a.box)
    for row, geom in servitudes:
        piece = shapely.intersection(geom, perimeter)
        if not piece.is_empty and piece.area > 1:
            rows.append({**row, "attributes": dict(row.get("attributes", {}))})
            geoms.append(piece)


def _make_plans(rng: np.random.Generator, grid: Grid, arrs: list[Arr], zonings: list[Zoning], centre):
    servitudes = make_servitudes(grid, rng, arrs)
    plans: list[PlanVersion] = []
    homologations = [date(2006, 6, 12), date(2008, 3, 27), date(2011, 11, 3), date(2013, 5, 16), date(2016, 2, 4)]
    for a in arrs:
        zone_rows, zone_geoms = zoning_table(zonings[a.index], rng)
        p_rows, p_geoms = make_prescriptions(rng, grid, a)
        _add_servitudes(servitudes, a, p_rows, p_geoms)
        approved = homologations[a.index % len(homologations)]
        code = f"PA-{a.code}-{approved.year}"
        spec = {"code": code, "kind": "PA", "name": f"Plan d'aménagement de l'arrondissement {a.name}",
                "status": "homologue", "status_date": approved, "commune_codes": [a.code],
                "approval_act": f"Décret n° 2-{approved.year % 100:02d}-{100 + a.index * 37} du "
                                f"{approved:%d/%m/%Y} (fictif)",
                "approval_date": approved, "valid_from": approved,
                "notes": "Données d'exemple fictives, générées par urbasig sample-data",
                "statuses": [{"status": "etude", "date": approved - timedelta(days=1400)},
                             {"status": "enquete_publique", "date": approved - timedelta(days=420)},
                             {"status": "homologue", "date": approved}]}
        plans.append(PlanVersion(spec, _table(zone_rows, _rotate(_multi(zone_geoms), centre), ZONE_KEYS),
                                 _table(p_rows, _rotate(_multi(p_geoms), centre), PRESCRIPTION_KEYS)))
        if a.index == 0:  # the first arrondissement is under revision: a newer version in public inquiry
            plans.append(_revision(rng, grid, a, zonings[a.index], servitudes, code, centre))
    plans.append(_sdau(grid, centre))
    return plans


def _revision(rng: np.random.Generator, grid: Grid, a: Arr, zoning: Zoning, servitudes, replaces: str, centre):
    """The revised plan: denser zoning on ~20 % of the cells, an extra new road, in public inquiry."""
    changes = {"V1": "V2", "V2": "D", "D": "C", "C": "B", "E": "D", "B": "B", "I": "ZAE", "ZAE": "D", "ZV": "ZV"}
    codes = zoning.codes.copy()
    flip = rng.random(codes.shape) < 0.2
    codes[flip] = [changes[c] for c in codes[flip]]
    codes[0, 0] = "ZV" if codes[0, 0] != "ZV" else "D"  # at least one visible change in a corner
    revised = Zoning(zoning.xb, zoning.yb, codes)
    zone_rows, zone_geoms = zoning_table(revised, rng)
    p_rows, p_geoms = make_prescriptions(rng, grid, a, new_version=True)
    _add_servitudes(servitudes, a, p_rows, p_geoms)
    spec = {"code": f"PA-{a.code}-2026", "kind": "PA", "name": f"Plan d'aménagement de l'arrondissement {a.name} "
            "(révision)", "status": "enquete_publique", "status_date": date(2026, 9, 15), "replaces": replaces,
            "commune_codes": [a.code], "notes": "Révision en cours — données d'exemple fictives",
            "statuses": [{"status": "etude", "date": date(2023, 3, 1)},
                         {"status": "enquete_publique", "date": date(2026, 9, 15),
                          "act": "Arrêté d'ouverture de l'enquête publique (fictif)"}]}
    return PlanVersion(spec, _table(zone_rows, _rotate(_multi(zone_geoms), centre), ZONE_KEYS),
                       _table(p_rows, _rotate(_multi(p_geoms), centre), PRESCRIPTION_KEYS))


def _sdau(grid: Grid, centre) -> PlanVersion:
    W, H = grid.sx1[-1], grid.sy1[-1]
    destinations = [("UE", "Urbanisation existante à densifier", "habitat et services"),
                    ("ZEU", "Zone d'extension urbaine", "habitat"),
                    ("ZA", "Zone d'activités", "industrie et logistique"),
                    ("CV", "Coulée verte", "espace naturel et loisirs"),
                    ("CA", "Centre d'agglomération", "services et commerce"),
                    ("UE", "Urbanisation existante à densifier", "habitat et services")]
    rows, geoms = [], []
    for j in range(2):
        for i in range(3):
            code, label, destination = destinations[j * 3 + i]
            rows.append({"code": code, "label": label, "destination": destination})
            geoms.append(shapely.box(W * i / 3, H * j / 2, W * (i + 1) / 3, H * (j + 1) / 2))
    spec = {"code": "SDAU-GC-2010", "kind": "SDAU", "name": "Schéma directeur d'aménagement urbain du Grand Casablanca",
            "status": "homologue", "status_date": date(2009, 12, 30), "valid_from": date(2009, 12, 30),
            "approval_act": "Décret n° 2.09.669 du 30 décembre 2009", "approval_date": date(2009, 12, 30),
            "notes": "Zonage d'exemple fictif (le décret cité est réel, le découpage ne l'est pas)",
            "statuses": [{"status": "etude", "date": date(2006, 1, 10)},
                         {"status": "enquete_publique", "date": date(2008, 10, 1)},
                         {"status": "homologue", "date": date(2009, 12, 30)}]}
    return PlanVersion(spec, sdau=_table(rows, _rotate(_multi(geoms), centre), ["code", "label", "destination"]))


def _make_establishments(rng: np.random.Generator, parcels: Table, arrs: list[Arr]) -> Table:
    n = len(parcels)
    kinds = [("pharmacy", "Pharmacie", 250), ("school", "École", 400), ("mosque", "Mosquée", 500)]
    rows, geoms = [], []
    for kind, label, per in kinds:
        count = max(3, n // per)
        chosen = rng.choice(n, size=count, replace=False)
        points = shapely.point_on_surface(parcels.geoms[chosen])
        opened = rng.integers(0, 50 * 365, size=count)
        for j, idx in enumerate(chosen):
            pending = kind == "pharmacy" and j % 40 == 39
            rows.append({
                "kind": kind, "name": f"{label} {STREET_WORDS[int(idx) % len(STREET_WORDS)]}",
                "address": parcels.columns["address"][idx], "status": "demande" if pending else "ouvert",
                "opened_on": None if pending else date(1975, 1, 1) + timedelta(days=int(opened[j])),
                "filed_at": f"2026-{1 + j % 11:02d}-{1 + j % 27:02d}T{8 + j % 9:02d}:{j % 60:02d}:00+01:00"
                if pending else None,
                "commune_code": parcels.columns["commune_code"][idx]})
            geoms.append(points[j])
    return _table(rows, geoms, ["kind", "name", "address", "status", "opened_on", "filed_at", "commune_code"])
