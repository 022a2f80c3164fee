"""The one strict JSON reader (gis/jsontext.py) and its three users (bodies, CQL2-JSON filters, page cursors):
whatever the text, including escapes of lone surrogates and NUL, it parses into clean values or raises our
InputError (a 400 with a French message); what it accepts always encodes to UTF-8 (psycopg's own test)."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.ogc.cql2_text import parse_text
from api.ogc.features import OgcError, decode_cursor
from gis.errors import InputError
from gis.jsontext import parse_json
from layers import cql

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# fragments of JSON text: structure, escapes of lone and paired surrogates, NUL, the non-JSON constants
FRAGMENTS = ['{', '}', '[', ']', ',', ':', '"', '"a"', '"op"', '"args"', '"property"', '"land_ref"', '"=",',
             "\\ud800", "\\udc00", "\\udbff\\udfff", "\\ud83d\\ude00", "\\u0000", "\\", "NaN", "-Infinity",
             "Infinity", "1e999", "-0", "12", "true", "null", " ", "é", "9" * 5000]
texts = st.lists(st.sampled_from(FRAGMENTS), max_size=30).map("".join)
# well-formed JSON whose strings and keys may hold lone surrogates and NUL (json.dumps escapes them)
nasty = st.text(alphabet=st.sampled_from(["a", "\x00", "\ud800", "\udfff", "\U0001f600", "é"]), max_size=4)
documents = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), nasty),
                         lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                 st.dictionaries(nasty, inner, max_size=3)),
                         max_leaves=12).map(json.dumps)


def _clean(value: object) -> None:
    text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    text.encode("utf-8")  # no lone surrogate anywhere, keys included
    assert "\x00" not in text and "\\u0000" not in text


@FAST
@given(st.one_of(texts, documents))
def test_any_json_text_parses_clean_or_is_an_input_error(text):
    for data in (text, text.encode("utf-8", "surrogatepass")):
        try:
            _clean(parse_json(data, 8))
        except InputError as exc:
            assert exc.status == 400 and exc.message
            exc.message.encode("utf-8")  # the message itself can be sent


@FAST
@given(st.one_of(texts, documents, st.sampled_from(['{"a":"\\ud800"}', '{"\\ud800":1}', '{"a":"\\u0000"}'])))
def test_any_cursor_or_cql2_json_filter_is_clean_or_an_input_error(text):
    try:
        _clean(decode_cursor(base64.urlsafe_b64encode(text.encode("utf-8", "surrogatepass")).decode()))
    except OgcError as exc:
        assert exc.status == 400 and "cursor" in exc.message
    try:
        cql.from_json(text)
    except InputError as exc:
        exc.message.encode("utf-8")


@pytest.mark.parametrize("text", [
    '{"op":"=","args":[{"property":"land_ref"},"\\ud800"]}',
    '{"op":"like","args":[{"property":"land_ref"},"TF\\udc00%"]}',
    '{"op":"in","args":[{"property":"land_ref"},["a","\\ud800"]]}',
    '{"op":"=","args":[{"property":"\\ud800"},"x"]}',
    '{"op":"=","args":[{"property":"land_ref"},"x"],"\\ud800":1}',
    '{"op":"=","args":[{"property":"land_ref"},"a\\u0000"]}',
])
def test_a_lone_surrogate_or_nul_in_a_cql2_json_filter_is_refused(text):
    with pytest.raises(cql.FilterError, match="caractère"):
        cql.from_json(text)
    with pytest.raises(cql.FilterError, match="caractère"):
        cql.from_json(json.loads(text))  # already parsed (a caller's dict): the same check


@pytest.mark.parametrize("text", ["land_ref = '\ud800'", "land_ref LIKE 'a\x00%'", '"land\udc00ref" = \'x\'',
                                  "land_ref = 'x' AND \ud800"])
def test_a_lone_surrogate_or_nul_in_a_cql2_text_filter_is_refused(text):
    with pytest.raises(cql.FilterError, match="caractère"):
        parse_text(text)


@pytest.mark.parametrize("data,match", [(b"[" + b"1" * 5000 + b"]", "nombre trop long"),
                                        (b'{"a":1}', None), (b"[[1]]", "imbriqué")])
def test_edges(data, match):
    if match is None:
        assert parse_json(data, 1) == {"a": 1}
        return
    with pytest.raises(InputError, match=match):
        parse_json(data, 1)
