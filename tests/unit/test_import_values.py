"""Pure parts of imports: attribute conversion (layers/imports.py) and the `[plan]` check (layers/plans.py)."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pytest

from gis.errors import InputError
from gis.landref import LandRef
from layers.catalog import Column
from layers.imports import convert_value
from layers.plans import check_spec


def col(type_: str) -> Column:
    return Column("x", type_, "X", "x")


@pytest.mark.parametrize(("value", "type_", "out"), [
    ("  Villa  ", "text", "Villa"),
    ("1 234,5", "float", 1234.5),
    (np.float64(2.5), "float", 2.5),
    ("12,0", "int", 12),
    ("RDC", "rplus", 0),
    ("r+4", "rplus", 4),
    ("3", "rplus", 3),
    ("Oui", "bool", True),
    ("faux", "bool", False),
    (0, "bool", False),
    ("23/11/2026", "date", date(2026, 11, 23)),
    ("2026-11-23T10:00:00", "date", date(2026, 11, 23)),
    (datetime(2026, 1, 2, 3, 4), "date", date(2026, 1, 2)),
    ("habitation; commerce | bureaux;", "text[]", ["habitation", "commerce", "bureaux"]),
    ("T.F. 3875-C", "landref", LandRef("TF", 3875, "C")),
])
def test_values_are_converted_to_the_column_type(value, type_, out):
    assert convert_value(value, col(type_)) == out


@pytest.mark.parametrize("value", [None, float("nan"), "  ", np.datetime64("NaT")])
def test_empty_values_are_null(value):
    assert convert_value(value, col("float")) is None


def test_json_is_wrapped_for_the_driver():
    assert convert_value('{"a": 1}', col("json")).obj == {"a": 1}


@pytest.mark.parametrize(("value", "type_", "message"), [
    ("inf", "float", "nombre infini"),
    ("2,5", "int", "entier attendu"),
    ("peut-être", "bool", "oui/non attendu"),
    ("x", "geometry", "type inconnu"),
])
def test_unconvertible_values_say_why(value, type_, message):
    with pytest.raises(ValueError, match=message):
        convert_value(value, col(type_))


SPEC = {"code": "PA-1", "kind": "PA", "name": "PA 1", "status": "homologue", "status_date": "2020-01-15"}


def test_a_homologated_version_applies_from_its_approval_unless_told():
    out = check_spec(SPEC)
    assert (out["approval_date"], out["valid_from"], out["commune_codes"]) == (date(2020, 1, 15), date(2020, 1, 15), [])
    later = check_spec({**SPEC, "valid_from": "2020-03-01"})
    assert (later["approval_date"], later["valid_from"]) == (date(2020, 1, 15), date(2020, 3, 1))


@pytest.mark.parametrize(("extra", "message"), [
    ({"colour": "red"}, r"clé\(s\) inconnue\(s\) \['colour'\]"),
    ({"name": ""}, "« name » est obligatoire"),
    ({"name": 3}, "« name » doit être un texte"),
    ({"kind": "POS"}, "nature « POS » inconnue"),
    ({"status": "approuve"}, "statut « approuve » inconnu"),
    ({"commune_codes": "ANFA"}, "liste de codes"),
    ({"valid_from": "2019-12-31"}, "ne peut précéder"),
    ({"valid_to": "2020-01-15"}, "doit suivre"),
    ({"statuses": [{"status": "etude"}]}, "n'a pas de date"),
    ({"statuses": [{"status": "vu", "date": "2019-01-01"}]}, "statut « vu » inconnu dans l'historique"),
])
def test_a_bad_plan_section_names_the_key_and_what_is_allowed(extra, message):
    with pytest.raises(InputError, match=message):
        check_spec({**SPEC, **extra})
