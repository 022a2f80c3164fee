"""Who reads the answer: a person's browser (a French or Arabic HTML page) or a program (JSON).

One rule for every route and for the error boundary (api/errors.py), so a page and its errors agree:

1. `?f=html` asks for the page and `?f=json` (or any other `f`: `geojson`, `jsonld`…) for the data, whatever
   the Accept header says (the OGC API's own switch, also offered to the other routes);
2. otherwise the Accept header decides: HTML only when it prefers `text/html` to `application/json`. A browser
   that opens a link sends `text/html,…,*/*;q=0.8` and gets the page; `curl` and `requests` send `*/*`,
   `fetch()` from our own scripts sends `*/*` too, an API client sends `application/json`: all get JSON
   (between equal qualities JSON wins, so a program that says nothing never receives HTML).
"""

from __future__ import annotations

from flask import request

DATA_TYPES = ("application/json", "application/geo+json", "application/schema+json")


def prefers_html() -> bool:
    """Whether this request is best answered with an HTML page (see the module's rule)."""
    asked = request.args.get("f")
    if asked:
        return asked == "html"
    return request.accept_mimetypes.best_match([*DATA_TYPES, "text/html"]) == "text/html"
