"""The message catalogue (every key in French and Arabic, once) and the number and date formats."""

from datetime import UTC, date, datetime

import pytest

from api.i18n import catalogue, translate
from gis import l10n


def test_every_message_has_both_languages_and_arabic_is_arabic():
    messages = catalogue()
    assert set(messages["fr"]) == set(messages["ar"]) and messages["fr"]
    assert any("\u0600" <= ch <= "\u06ff" for ch in messages["ar"]["site.tagline"])


def test_placeholders_are_filled():
    assert translate("site.name", "ar") == "urbasig"
    with pytest.raises(KeyError):
        translate("no.such.key", "fr")


def test_numbers_dates_per_language():
    assert l10n.area(1234.561, "fr") == "1\u00a0234,56\u00a0m²"
    assert l10n.number(1234567.5, "ar", 1) == "1.234.567,5"
    assert l10n.percent(12.345, "fr") == "12,3\u00a0%"
    assert l10n.long_date(date(2026, 12, 1), "fr") == "1er décembre 2026"
    assert l10n.long_date(date(2026, 8, 15), "ar") == "15 غشت 2026"
    # stored in UTC, read on the agency's clock (Africa/Casablanca, UTC+1 outside Ramadan); naive = UTC
    utc = datetime(2026, 12, 1, 13, 5, tzinfo=UTC)
    assert l10n.long_datetime(utc, "fr") == "1er décembre 2026 à 14\u00a0h\u00a005"
    assert l10n.long_datetime(utc.replace(tzinfo=None), "ar") == "1 دجنبر 2026 على الساعة 14:05"
    assert l10n.long_datetime(datetime(2026, 12, 1, 14, 5), "fr", zone=None) == "1er décembre 2026 à 14\u00a0h\u00a005"
    assert l10n.long_datetime(datetime(2026, 11, 30, 23, 30, tzinfo=UTC), "fr") == "1er décembre 2026 à 0\u00a0h\u00a030"
    assert l10n.area(2000, "fr", trim=True) == "2\u00a0000\u00a0m²" and l10n.length(11.5, "ar", trim=True) == "11,50\u00a0m"
    assert l10n.number(-0.001, "fr") == "0,00"
    with pytest.raises(ValueError):
        l10n.number(1, "en")


def test_vocabulary_covers_every_code_in_both_languages():
    from instruction import vocabulary
    from instruction.findings import PRESCRIPTION_KINDS
    from layers.plan_terms import PLAN_KINDS, PLAN_STATUSES

    assert set(vocabulary.PRESCRIPTIONS) == set(PRESCRIPTION_KINDS)
    assert set(vocabulary.STATUSES) == set(PLAN_STATUSES) and set(vocabulary.PLAN_KIND_LABELS) == set(PLAN_KINDS)
    for table in vocabulary.TABLES.values():
        for texts in table.values():
            assert texts["fr"] and any("\u0600" <= ch <= "\u06ff" for ch in texts["ar"])
    assert vocabulary.label("status", "enquete_publique", "ar") == "في طور البحث العلني"
    assert vocabulary.label("prescription", "xyz", "fr") == "autre : xyz"
