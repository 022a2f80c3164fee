// Lon/lat (WGS 84) ⇄ Merchich / Nord Maroc (EPSG:26191), in the browser, as PROJ does it:
// WGS 84 → geocentric → 3-parameter shift (−31, −146, −47 m) → Clarke 1880 (IGN) → Lambert conic conformal (1SP).
// So the planner's measures are in the metres of the cadastre, not of Web Mercator (≈ 20 % too long here).
// Checked against pyproj to the millimetre by tests/browser/test_planner.py.

const WGS84 = { a: 6378137.0, f: 1 / 298.257223563 };
const CLARKE_IGN = { a: 6378249.2, f: 1 / 293.466021293627 };
const SHIFT = [31, 146, 47]; // Merchich → WGS 84, metres (EPSG:1146 as PROJ applies it)
const LCC = { lat0: 33.3, lon0: -5.4, k0: 0.999625769, x0: 500000, y0: 300000 };
const RAD = Math.PI / 180;

function e2(ellipsoid) { return ellipsoid.f * (2 - ellipsoid.f); }

function toCartesian(lon, lat, ellipsoid) {
  const [l, p] = [lon * RAD, lat * RAD];
  const es = e2(ellipsoid);
  const n = ellipsoid.a / Math.sqrt(1 - es * Math.sin(p) ** 2);
  return [n * Math.cos(p) * Math.cos(l), n * Math.cos(p) * Math.sin(l), n * (1 - es) * Math.sin(p)];
}

function fromCartesian([x, y, z], ellipsoid) {
  const es = e2(ellipsoid);
  const p = Math.hypot(x, y);
  let lat = Math.atan2(z, p * (1 - es));
  for (let i = 0; i < 8; i += 1) {
    const n = ellipsoid.a / Math.sqrt(1 - es * Math.sin(lat) ** 2);
    const h = p / Math.cos(lat) - n;
    lat = Math.atan2(z, p * (1 - es * n / (n + h)));
  }
  return [Math.atan2(y, x) / RAD, lat / RAD];
}

const E = Math.sqrt(e2(CLARKE_IGN));
const tOf = (phi) => Math.tan(Math.PI / 4 - phi / 2) / ((1 - E * Math.sin(phi)) / (1 + E * Math.sin(phi))) ** (E / 2);
const PHI0 = LCC.lat0 * RAD;
const N = Math.sin(PHI0);
const M0 = Math.cos(PHI0) / Math.sqrt(1 - (E * Math.sin(PHI0)) ** 2);
const F = M0 / (N * tOf(PHI0) ** N);
const R0 = CLARKE_IGN.a * F * tOf(PHI0) ** N * LCC.k0;

/** [lon, lat] in WGS 84 → [x, y] in EPSG:26191 (metres). */
export function toMerchich([lon, lat]) {
  const c = toCartesian(lon, lat, WGS84);
  const [mlon, mlat] = fromCartesian([c[0] - SHIFT[0], c[1] - SHIFT[1], c[2] - SHIFT[2]], CLARKE_IGN);
  const r = CLARKE_IGN.a * F * tOf(mlat * RAD) ** N * LCC.k0;
  const theta = N * (mlon - LCC.lon0) * RAD;
  return [LCC.x0 + r * Math.sin(theta), LCC.y0 + R0 - r * Math.cos(theta)];
}

/** [x, y] in EPSG:26191 → [lon, lat] in WGS 84. */
export function fromMerchich([x, y]) {
  const dx = x - LCC.x0;
  const dy = R0 - (y - LCC.y0);
  const r = Math.sign(N) * Math.hypot(dx, dy);
  const t = (r / (CLARKE_IGN.a * LCC.k0 * F)) ** (1 / N);
  const lon = Math.atan2(dx, dy) / N / RAD + LCC.lon0;
  let phi = Math.PI / 2 - 2 * Math.atan(t);
  for (let i = 0; i < 10; i += 1) {
    phi = Math.PI / 2 - 2 * Math.atan(t * ((1 - E * Math.sin(phi)) / (1 + E * Math.sin(phi))) ** (E / 2));
  }
  const c = toCartesian(lon, phi / RAD, CLARKE_IGN);
  return fromCartesian([c[0] + SHIFT[0], c[1] + SHIFT[1], c[2] + SHIFT[2]], WGS84);
}

/** Length in EPSG:26191 metres of a polyline of [lon, lat]. */
export function lengthM(points) {
  const xy = points.map(toMerchich);
  let total = 0;
  for (let i = 1; i < xy.length; i += 1) total += Math.hypot(xy[i][0] - xy[i - 1][0], xy[i][1] - xy[i - 1][1]);
  return total;
}

/** Area in EPSG:26191 square metres of a ring of [lon, lat] (closed or not). */
export function areaM2(points) {
  if (points.length < 3) return 0;
  const xy = points.map(toMerchich);
  let twice = 0;
  for (let i = 0; i < xy.length; i += 1) {
    const [x0, y0] = xy[i];
    const [x1, y1] = xy[(i + 1) % xy.length];
    twice += x0 * y1 - x1 * y0;
  }
  return Math.abs(twice) / 2;
}

/** A GeoJSON geometry in EPSG:26191 → the same in lon/lat. */
export function geometryToLonLat(geometry) {
  const ring = (coords) => coords.map(fromMerchich);
  if (geometry.type === "Polygon") return { type: "Polygon", coordinates: geometry.coordinates.map(ring) };
  if (geometry.type === "MultiPolygon") {
    return { type: "MultiPolygon", coordinates: geometry.coordinates.map((poly) => poly.map(ring)) };
  }
  if (geometry.type === "LineString") return { type: "LineString", coordinates: ring(geometry.coordinates) };
  if (geometry.type === "MultiLineString") return { type: "MultiLineString", coordinates: geometry.coordinates.map(ring) };
  if (geometry.type === "GeometryCollection") {
    return { type: "GeometryCollection", geometries: geometry.geometries.map(geometryToLonLat) };
  }
  return { type: geometry.type, coordinates: fromMerchich(geometry.coordinates) };
}
