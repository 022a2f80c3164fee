"""Indicative note latency (PDF with its map extract), in process, on the sample territory.

Usage: .venv/bin/python bench/notes.py [PARCELS] [N]   (default 20000 parcels, 200 notes after 20 warm-up)
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from urllib.parse import quote

import psycopg
from _common import app_role_url, scratch_db

from app import create_app
from layers.sample import load_sample
from settings import Settings


def pipeline(url: str, refs: list[str]) -> None:
    """Machine time of the official pipeline per note: instruction, envelope, PDF with map and QR code, PAdES
    signature."""
    import tempfile
    from datetime import UTC, date, datetime
    from pathlib import Path

    from instruction.engine import Options, instruct
    from instruction.land import LandRequest
    from notes.envelope import with_envelope
    from notes.indicative import IndicativeNote, map_for, pdf
    from notes.signing import dev_ltv, ensure_dev_ca, sign_pdf

    files = ensure_dev_ca(Path(tempfile.mkdtemp()) / "signing")
    ltv = dev_ltv(files)  # the development TSA in process and the CA's CRL: PAdES B-LTA, as the official chain
    steps: dict[str, list[float]] = {"instruction": [], "enveloppe": [], "PDF": [], "signature B-B": [],
                                     "signature B-LTA": []}
    with psycopg.connect(url) as conn:
        for i, ref in enumerate(refs):
            t0 = time.perf_counter()
            bare = instruct(conn, LandRequest(refs=(ref,)), None, Options(with_geometry=True))
            te = time.perf_counter()
            result = with_envelope(conn, bare, Options())  # what the automatic instruction stores (notes/official.py)
            t1 = time.perf_counter()
            note = IndicativeNote(result, map_for(conn, result), datetime.now(UTC))
            data = pdf(note, {"number": f"NRU-BENCH-{i}", "short_code": "ABCDEF12", "requested_on": date.today(),
                              "verify_url": "http://127.0.0.1:5000/verify/ABCDEF12", "applicant": "Bench",
                              "standing": "propriétaire"})
            t2 = time.perf_counter()
            sign_pdf(data, files, reason="bench")
            t3 = time.perf_counter()
            sign_pdf(data, files, reason="bench", ltv=ltv)  # timestamp, DSS with the CRL, archive timestamp
            t4 = time.perf_counter()
            if i >= 5:
                for key, value in zip(steps, (te - t0, t1 - te, t2 - t1, t3 - t2, t4 - t3), strict=True):
                    steps[key].append(value)
    parts = ", ".join(f"{k} {statistics.median(v) * 1000:.1f} ms" for k, v in steps.items())
    total = sum(statistics.median(v) for k, v in steps.items() if k != "signature B-B") * 1000
    print(f"note officielle, temps machine médian : {parts} ; total {total:.1f} ms")


def main(n_parcels: int, n: int) -> None:
    with scratch_db("urbasig_bench_notes") as url:
        with psycopg.connect(url) as conn:
            load_sample(conn, n_parcels, 42)
            refs = [r[0] for r in conn.execute("SELECT land_ref FROM parcels WHERE land_ref IS NOT NULL")]
        random.Random(5).shuffle(refs)
        app = create_app(Settings(database_url=url, app_database_url=app_role_url(url),
                                  indicative_per_minute=1_000_000))
        client = app.test_client()
        pipeline(url, refs[:50])
        for fmt in ("pdf", "html"):
            times = []
            for i, ref in enumerate(refs[: n + 20]):
                start = time.perf_counter()
                r = client.get(f"/notes/indicative?land={quote(ref)}&format={fmt}")
                elapsed = time.perf_counter() - start
                assert r.status_code == 200, r.data[:200]
                if i >= 20:
                    times.append(elapsed)
            times.sort()
            median = statistics.median(times) * 1000
            print(f"note indicative {fmt.upper():<4} ({n_parcels} parcelles) : médiane {median:.1f} ms, "
                  f"p95 {times[int(len(times) * 0.95)] * 1000:.1f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000, int(sys.argv[2]) if len(sys.argv) > 2 else 200)
