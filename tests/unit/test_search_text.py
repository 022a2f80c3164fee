"""The search box's reader (gis/search_text.py), pure: which kind a text is and the values read from it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gis.search_text import FOLD_TABLE, LAMBERT_X, LAMBERT_Y, fold, understand

# ----------------------------------------------------------------------------------------------- titles


@pytest.mark.parametrize("text", ["TF 56883/C", "tf56883-c", "T.56883/C", "titre 56883 C", "T.F. n° 56883/C",
                                  "Titre foncier 56883 / c", " TF-56883-C "])
def test_every_spelling_of_a_title_is_that_title(text):
    found = understand(text)
    assert (found.kind, found.values["ref"]) == ("titre", "TF 56883/C")
    assert "TF 56883/C" in found.values["prefixes"]


def test_a_requisition_is_read_as_one():
    found = understand("R 1234/C")
    assert (found.kind, found.values["ref"]) == ("titre", "R 1234/C")
    assert understand("Réq. 1234/C").values["ref"] == "R 1234/C"


@pytest.mark.parametrize(("text", "prefixes"), [("TF 568", ("TF 568",)), ("tf56883-", ("TF 56883/",)),
                                                ("TF 56883/", ("TF 56883/",)), ("R 12", ("R 12",)),
                                                ("t.4520", ("TF 4520",))])
def test_a_title_being_typed_is_a_prefix(text, prefixes):
    found = understand(text)
    assert found.kind == "titre"
    assert found.values["prefixes"] == prefixes


def test_a_bare_number_may_be_a_title_or_a_requisition():
    found = understand("56883")
    assert found.kind == "titre"
    assert set(found.values["prefixes"]) == {"TF 56883", "R 56883"}


@given(st.integers(1, 99_999_999), st.sampled_from(["C", "D", "47", "63", "B"]),
       st.sampled_from(["TF {n}/{s}", "tf{n}-{s}", "T.{n}/{s}", "titre {n} {s}", "TF {n} / {s}", "T.F. {n}-{s}"]))
def test_titles_of_any_number_and_suffix(number, suffix, form):
    if form.startswith("titre") and suffix.isdigit():
        form = "titre {n}/{s}"  # "titre 1 47" is two numbers to the title grammar (gis/landref.py)
    found = understand(form.format(n=number, s=suffix.lower() if "tf" in form else suffix))
    assert found.kind == "titre"
    assert found.values["ref"] == f"TF {number}/{suffix}"


# ------------------------------------------------------------------------------------------ Lambert


@pytest.mark.parametrize("text", ["296512.3 331245.8", "296512.3, 331245.8", "296512,3 ; 331245,8", "296512.3;331245.8",
                                  "X=296512.3 Y=331245.8", "x: 296512.3, y: 331245.8", "Y=331245.8 X=296512.3"])
def test_lambert_pairs(text):
    found = understand(text)
    assert found.kind == "lambert"
    assert (found.values["x"], found.values["y"]) == (296512.3, 331245.8)


def test_an_unlabelled_pair_keeps_the_swap_as_alternative_when_plausible():
    found = understand("296512 331245")
    assert found.values["alternative"] == (331245.0, 296512.0)
    assert understand("X=296512 Y=331245").values["alternative"] is None  # labels settle the order


def test_a_pair_plausible_only_as_y_x_is_read_as_y_x():
    # x = 900 000 is in the Nord Maroc domain, y = 900 000 is not: "100000 900000" can only be y, x
    found = understand("120000 900000")
    assert (found.kind, found.values["x"], found.values["y"]) == ("lambert", 900000.0, 120000.0)


def test_a_pair_out_of_the_domain_is_not_lambert():
    assert understand("5000 2000000").kind == "inconnu"


@given(st.floats(LAMBERT_X[0], LAMBERT_X[1]), st.floats(LAMBERT_Y[0], LAMBERT_Y[1]),
       st.sampled_from(["{x} {y}", "{x}, {y}", "{x};{y}", "X={x} Y={y}", "Y={y} X={x}"]))
def test_any_pair_of_the_domain_is_read_back(x, y, form):
    x, y = round(x, 2), round(y, 2)
    found = understand(form.format(x=x, y=y))
    assert found.kind == "lambert"
    assert (found.values["x"], found.values["y"]) == (x, y) or found.values["alternative"] == (x, y) \
        or (found.values["y"], found.values["x"]) == (x, y)


# ---------------------------------------------------------------------------------------- degrees
LON, LAT = -7.70408, 33.47208


@pytest.mark.parametrize("text", ["-7.70408, 33.47208", "33.47208 -7.70408", "33.47208, -7.70408", "-7.70408 33.47208",
                                  "33,47208 ; -7,70408", "33.47208;-7.70408"])
def test_decimal_degrees_in_either_order(text):
    found = understand(text)
    assert found.kind == "lonlat"
    assert (found.values["lon"], found.values["lat"]) == (LON, LAT)
    assert not found.values["assumed_west"]


def test_a_longitude_without_sign_is_west():
    found = understand("33.47208, 7.70408")
    assert (found.values["lon"], found.values["lat"], found.values["assumed_west"]) == (LON, LAT, True)


@pytest.mark.parametrize("text", ["33°28'19.5\"N 7°42'14.7\"W", "33 28 19.5 N 7 42 14.7 W", "33°28′19.5″N 7°42′14.7″W",
                                  "N 33 28 19.5 W 7 42 14.7", "7°42'14.7\"W 33°28'19.5\"N", "33°28'19.5\" -7°42'14.7\"",
                                  "33°28'19.5''N 7°42'14.7''O", "33° 28' 19,5\" N, 7° 42' 14,7\" W",
                                  "33°28’19.5”N 7°42’14.7”W", "33.4720833N 7.7040833W", "33.4720833 N, 7.7040833 O"])
def test_degrees_minutes_seconds(text):
    found = understand(text)
    assert found.kind == "lonlat", text
    assert found.values["lon"] == pytest.approx(-(7 + 42 / 60 + 14.7 / 3600))
    assert found.values["lat"] == pytest.approx(33 + 28 / 60 + 19.5 / 3600)


@pytest.mark.parametrize("text", ["33°75'00\"N 7°42'14.7\"W", "33°28'19.5\"N 7°42'14.7\"N", "12°N 3°W", "33°28'19.5\"E"])
def test_impossible_dms_is_not_a_point(text):
    assert understand(text).kind != "lonlat"


@given(st.floats(-17.0, -1.0), st.floats(21.0, 36.0), st.booleans())
def test_any_moroccan_point_in_decimal_degrees(lon, lat, lat_first):
    lon, lat = round(lon, 5), round(lat, 5)
    found = understand(f"{lat} {lon}" if lat_first else f"{lon}, {lat}")
    assert (found.kind, found.values["lon"], found.values["lat"]) == ("lonlat", lon, lat)


@given(st.integers(21, 35), st.integers(0, 59), st.floats(0, 59.9), st.integers(1, 16), st.integers(0, 59),
       st.floats(0, 59.9))
def test_any_moroccan_point_in_dms(lat_d, lat_m, lat_s, lon_d, lon_m, lon_s):
    lat_s, lon_s = round(lat_s, 1), round(lon_s, 1)
    found = understand(f"{lat_d}°{lat_m}'{lat_s}\"N {lon_d}°{lon_m}'{lon_s}\"W")
    assert found.kind == "lonlat"
    assert found.values["lat"] == pytest.approx(lat_d + lat_m / 60 + lat_s / 3600)
    assert found.values["lon"] == pytest.approx(-(lon_d + lon_m / 60 + lon_s / 3600))


# ------------------------------------------------------------------------------------------ addresses


@pytest.mark.parametrize("text", ["12 rue Ibnou Sina", "rue ibnou sina 12", "12, Rue Ibn Sina", "N° 12 rue Ibn Sina",
                                  "12 RUE IBN SINA", "12 r. ibn sina"])
def test_a_number_and_a_street(text):
    found = understand(text)
    assert found.kind == "adresse", text
    assert (found.values["number"], found.values["street"]) == ("12", "rue ibn sina")


def test_street_words_are_written_out():
    assert understand("5 bd Zerktouni").values["street"] == "boulevard zerktouni"
    found = understand("13 bis av. Hassan II")
    assert (found.values["number"], found.values["street"]) == ("13 bis", "avenue hassan ii")


def test_a_street_alone():
    found = understand("Avenue Mohammed V")
    assert (found.values["number"], found.values["street"]) == (None, "avenue mohammed v")
    assert found.kind == "adresse"


def test_an_address_is_not_a_title():
    assert understand("12 rue X").kind == "adresse"  # "12 RUE" would be TF 12/RUE to the title grammar


# ----------------------------------------------------------------------------------------- names


@pytest.mark.parametrize(("text", "words"), [("ain chock", "ain chock"), ("Aïn-Chock", "ain chock"),
                                             ("AÏN CHOCK", "ain chock"), ("Ben M'Sick", "ben m sick"),
                                             ("Hay Hassani", "hay hassani"), ("maârif", "maarif")])
def test_names_are_folded(text, words):
    found = understand(text)
    assert (found.kind, found.values["words"]) == ("commune", words)


def test_fold_matches_the_database_folding_rules():
    assert fold("12, Rue Ibn Sina") == "12 rue ibn sina"
    assert fold("Aïn Sebaâ") == "ain sebaa"
    assert fold("Ben M’Sick") == fold("Ben M'Sick") == "ben m sick"


# ---------------------------------------------------------------------------------------- the rest


@pytest.mark.parametrize("text", ["", "   ", "%", "_", "%%%", "12.5", "?!", "-"])
def test_nothing_to_read(text):
    assert understand(text).kind == "inconnu"


@given(st.text(max_size=250))
def test_any_text_gets_a_kind_and_never_raises(text):
    found = understand(text)
    assert found.kind in ("titre", "lambert", "lonlat", "adresse", "commune", "inconnu")
    assert len(found.text) <= 200


@pytest.mark.parametrize(("text", "number", "street"), [("rue 136", None, "rue 136"), ("12 rue 136", "12", "rue 136"),
                                                        ("r. 136 12", "12", "rue 136"), ("Avenue 20", None, "avenue 20")])
def test_numbered_streets(text, number, street):
    found = understand(text)
    assert found.kind == "adresse"
    assert (found.values["number"], found.values["street"]) == (number, street)


def test_a_requisition_is_still_a_title():
    assert understand("R. 136 C").values["ref"] == "R 136/C"
    assert understand("r 136/c").values["ref"] == "R 136/C"


@pytest.mark.parametrize(("text", "folded"), [
    ("Straße … أحمد ﬁn ½", "strasse … احمد fin ½"), ("l’Œuvre", "l oeuvre"), ("Æther", "aether"),
    ("إدريس آمنة ٱلله", "ادريس امنه الله"), ("مؤمن سائق مستشفى مدرسة", "مومن سايق مستشفي مدرسه"),
    ("شَارِع مُحَمَّد", "شارع محمد"), ("１２ Ｒｕｅ", "12 rue"), ("١٢ ۳۴", "12 34"), ("12\u00a0rue\u202fibn", "12 rue ibn"),
    ("Rue d`Alger", "rue d alger"), ("ΣΊΣΥΦΟΣ", "ΣΊΣΥΦΟΣ"),
])
def test_fold_follows_its_table(text, folded):
    assert fold(text) == folded


def test_the_table_maps_single_characters_and_its_outputs_stay_folded():
    """The database applies the table in one translate() after the expansions: no output may be folded again."""
    assert all(len(k) == 1 for k in FOLD_TABLE)
    assert all(fold(v) == v.strip() for v in FOLD_TABLE.values())
