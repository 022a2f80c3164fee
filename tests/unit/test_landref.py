"""Property-based tests of the land reference parser (pure: no database).

Every spelling of a valid title, generated from the ways titles are written in real files (prefixes, the
separator after the prefix, case, accents, "n°", the suffix separator, spaces), must give the same canonical
reference; anything else must raise LandRefError, never another exception.
"""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from gis import landref
from gis.errors import LandRefError
from gis.landref import LandRef, parse_land_ref

TF_PREFIXES = ["TF", "T.F.", "T.F", "T F", "T. F.", "T", "T.", "Titre foncier", "Titre", "titre  foncier"]
R_PREFIXES = ["R", "R.", "Req", "Req.", "Réq", "Réq.", "Requisition", "Réquisition", "RÉQUISITION"]
PREFIX_SEPARATORS = ["", " ", "  ", "-", ".", " - ", ". ", "- ", " -"]
NUMERO = ["", "n°", "N°", "nº", "No", "No.", "no", "N.", "n °"]
SUFFIX_SEPARATORS = ["/", " / ", "/ ", " /", "-", " - ", "- "]
ACCENTED = {"E": "éÉèêë", "A": "àâÀ", "C": "çÇ", "I": "îï", "O": "ôÔ", "U": "ùûü"}
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
NOT_A_PREFIX = "ABCDGHJKLMPVWXYZ"  # every valid prefix or "n°" starts with T, R or N
SPACES = ["", " ", "  ", "\t", "\u00a0"]


@st.composite
def random_case(draw, text: str) -> str:
    """The text with each character in upper or lower case."""
    flags = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.upper() if up else c.lower() for c, up in zip(text, flags, strict=True))


@st.composite
def suffixes(draw) -> tuple[str, str]:
    """(suffix as written, canonical suffix): 1 to 4 letters or digits, letters in any case, some accented."""
    canonical = draw(st.text(alphabet=LETTERS + "0123456789", min_size=1, max_size=4))
    written = ""
    for c in canonical:
        if c in ACCENTED and draw(st.booleans()):
            c = draw(st.sampled_from(ACCENTED[c]))
        written += draw(st.sampled_from([c.upper(), c.lower()]))
    return written, canonical


@st.composite
def numbers(draw) -> tuple[str, int]:
    """(digits as written, number): 1 to 8 digits, not zero, with leading zeros sometimes."""
    number = draw(st.integers(min_value=1, max_value=99_999_999))
    width = draw(st.integers(min_value=len(str(number)), max_value=8))
    return str(number).zfill(width), number


@st.composite
def heads(draw) -> tuple[str, str]:
    """(prefix, separator and "n°" as written, kind): everything before the number."""
    kind = draw(st.sampled_from(["TF", "R"]))
    prefixes = TF_PREFIXES + [""] if kind == "TF" else R_PREFIXES
    prefix = draw(random_case(draw(st.sampled_from(prefixes))))
    separator = draw(st.sampled_from(PREFIX_SEPARATORS)) if prefix else ""
    numero = draw(random_case(draw(st.sampled_from(NUMERO))))
    after_numero = draw(st.sampled_from(["", " "])) if numero else ""
    return prefix + separator + numero + after_numero, kind


@st.composite
def titles(draw, with_suffix: bool | None = None) -> tuple[str, LandRef]:
    """(a spelling of a valid title, the reference it must give)."""
    head, kind = draw(heads())
    digits, number = draw(numbers())
    text, suffix = head + digits, None
    if with_suffix if with_suffix is not None else draw(st.booleans()):
        written, suffix = draw(suffixes())
        separators = SUFFIX_SEPARATORS + ([" ", "  "] if written[0].isalpha() else [])
        text += draw(st.sampled_from(separators)) + written
    text = draw(st.sampled_from(SPACES)) + text + draw(st.sampled_from(SPACES))
    return text, LandRef(kind, number, suffix)


# ---------------------------------------------------------------------------------------- accepted
@pytest.mark.parametrize(("text", "canonical"), [
    ("TF-1005-D", "TF 1005/D"), ("R-2001-C", "R 2001/C"), ("T-1005/D", "TF 1005/D"),  # issue 11
    ("TF 3875/C", "TF 3875/C"), ("T.3875/C", "TF 3875/C"), ("T.F. n° 3875/C", "TF 3875/C"),
    ("tf3875-c", "TF 3875/C"), ("Réq. 1234/C", "R 1234/C"), ("TF 3875 C", "TF 3875/C"),
    ("T.F.-1005-D", "TF 1005/D"), ("R.2001/C", "R 2001/C"), ("Titre foncier n° 19588/63", "TF 19588/63"),
    ("réquisition-12-c", "R 12/C"), ("TF 0042/C", "TF 42/C"), ("3875/C", "TF 3875/C"),
])
def test_known_spellings(text, canonical):
    assert parse_land_ref(text).normalized == canonical


@given(titles())
@example(("TF-1005-D", LandRef("TF", 1005, "D")))
@example(("R-2001-C", LandRef("R", 2001, "C")))
@example(("T-1005/D", LandRef("TF", 1005, "D")))
def test_every_spelling_of_a_title_gives_the_same_reference(case):
    text, expected = case
    assert parse_land_ref(text) == expected


@given(titles())
def test_the_canonical_form_reads_back_to_itself(case):
    ref = parse_land_ref(case[0])
    assert parse_land_ref(ref.normalized) == ref
    assert re.fullmatch(r"(TF|R) [1-9][0-9]{0,7}(/[A-Z0-9]{1,4})?", ref.normalized)


@pytest.mark.parametrize("text", ["NI", "N.I.", "ni", "non immatriculé", "Non-immatriculée", "NON IMMATRICULE"])
def test_untitled_land(text):
    assert parse_land_ref(text) == LandRef("NI")


def test_canonical_text_takes_the_fast_path(monkeypatch):
    def no_fold(text):
        raise AssertionError("the canonical form must not be folded")

    monkeypatch.setattr(landref, "_fold", no_fold)
    assert parse_land_ref("TF 3875/C") == LandRef("TF", 3875, "C")
    assert parse_land_ref("R 12") == LandRef("R", 12, None)


# ---------------------------------------------------------------------------------------- refused
def _refused(text: str) -> None:
    with pytest.raises(LandRefError):
        parse_land_ref(text)


@given(heads(), st.text(alphabet="0123456789", min_size=1, max_size=4), st.sampled_from(LETTERS),
       st.text(alphabet="0123456789", min_size=1, max_size=4), st.sampled_from(["", "/C", "-D"]))
def test_a_number_with_letters_is_refused(head, before, letter, after, tail):
    _refused(f"{head[0]}{before}{letter}{after}{tail}")


@given(titles(with_suffix=False), st.text(alphabet="0123456789", min_size=1, max_size=8),
       st.sampled_from(["", "/C", "-c", " / 38"]))
def test_two_numbers_are_refused(case, second, tail):
    _refused(f"{case[0].strip()} {second}{tail}")


@given(titles(with_suffix=True), st.sampled_from([" ", "/", "-", " / ", " - "]),
       st.text(alphabet="0123456789", min_size=1, max_size=8))
def test_a_number_after_the_suffix_is_refused(case, separator, second):
    _refused(f"{case[0].strip()}{separator}{second}")


@given(titles(with_suffix=True), titles(), st.sampled_from([" ", " et ", ", ", "; ", "+"]))
def test_two_titles_in_one_reference_are_refused(first, second, joint):
    _refused(f"{first[0].strip()}{joint}{second[0].strip()}")


@given(titles(with_suffix=False), st.sampled_from(["/", "-", " /", "/ ", " - "]))
def test_an_empty_suffix_is_refused(case, separator):
    _refused(case[0].strip() + separator)


@given(heads(), st.text(alphabet="0", min_size=1, max_size=8))
def test_number_zero_is_refused(head, zeros):
    _refused(f"{head[0]}{zeros}/C")


@given(heads(), st.integers(min_value=100_000_000, max_value=10**12))
def test_more_than_eight_digits_are_refused(head, number):
    _refused(f"{head[0]}{number}/C")


@given(titles(with_suffix=False), st.text(alphabet=LETTERS + "0123456789", min_size=5, max_size=8))
def test_a_suffix_longer_than_four_characters_is_refused(case, suffix):
    _refused(f"{case[0].strip()}/{suffix}")


@given(st.text(alphabet=NOT_A_PREFIX, min_size=1, max_size=4), st.sampled_from(PREFIX_SEPARATORS), numbers(),
       st.sampled_from(["", "/C"]))
def test_an_unknown_prefix_is_refused(prefix, separator, number, tail):
    _refused(f"{prefix}{separator}{number[0]}{tail}")


@given(titles(), st.sampled_from("#@!?;*_+,=&%$|\\()[]{}<>\"'"), st.data())
def test_a_stray_character_is_refused(case, char, data):
    text = case[0]
    at = data.draw(st.integers(min_value=0, max_value=len(text)))
    _refused(text[:at] + char + text[at:])


@given(st.text(max_size=30))
@example("")
@example("   ")
@example("TF")
@example("R /C")
def test_text_without_a_number_is_refused(text):
    folded = unicodedata.normalize("NFKD", text).upper()
    assume(not re.search(r"[0-9N]", folded))  # no number, and not "non immatriculé"
    _refused(text)


@given(st.one_of(st.text(max_size=40), st.none(), st.integers(), st.floats()))
def test_anything_parses_or_raises_land_ref_error(value):
    try:
        ref = parse_land_ref(value)
    except LandRefError:
        return
    assert ref.kind == "NI" or parse_land_ref(ref.normalized) == ref
