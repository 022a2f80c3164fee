"""gis/dates.py: a requested day is AAAA-MM-JJ and nothing else ISO 8601 allows."""

from __future__ import annotations

from datetime import date

import pytest

from gis.dates import read_day
from gis.errors import InputError


def test_a_day_written_aaaa_mm_jj_is_read():
    assert read_day("2026-01-01") == date(2026, 1, 1) and read_day("0001-01-01") == date(1, 1, 1)


@pytest.mark.parametrize("text", ["2026-W01-1", "20260101", "2026-1-1", "2026-01-01T00:00", "2026-02-30", " 2026-01-01",
                                  "2026-01-01\n", "٢٠٢٦-٠١-٠١", "2026-13-01", "", "hier"])
def test_anything_else_is_refused_in_french(text):
    with pytest.raises(InputError) as caught:
        read_day(text)
    assert "AAAA-MM-JJ" in caught.value.message and caught.value.status == 400
