"""The catalogue for machines outside /ogc: DCAT JSON-LD of the whole catalogue, ISO 19139 per dataset.

Thin routes: the viewer (the public, or the organisation of a partner key — the same rule as /ogc), one call to
layers/datasets.py, one renderer (api/dcat.py, api/iso19139.py). The pages of /donnees/ are another module's.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, current_app

from api.dataset_links import ISO_MEDIA_TYPE, JSONLD
from api.db import get_db
from api.dcat import catalogue
from api.iso19139 import metadata_xml
from api.ogc.routes import viewer
from layers.datasets import get_dataset, list_datasets

catalogue_meta = Blueprint("catalogue_meta", __name__, url_prefix="/donnees")


def _site() -> str:
    return current_app.config["URBASIG"].public_base  # never the request's Host (api/security.py)


def _cache(who: str) -> dict[str, str]:
    return {"Cache-Control": f"{'public' if who == 'public' else 'private'}, max-age=300", "Vary": "X-API-Key"}


@catalogue_meta.get("/catalogue.jsonld")
def dcat_catalogue() -> Response:
    """The catalogue as a dcat:Catalog (JSON-LD, DCAT-AP where it maps)."""
    who = viewer()
    doc = catalogue(_site(), _site() + "/ogc", list_datasets(get_db(), who))
    return Response(json.dumps(doc, ensure_ascii=False), mimetype=JSONLD, headers=_cache(who.kind))


@catalogue_meta.get("/<dataset_id>/metadonnees.xml")
def iso_metadata(dataset_id: str) -> Response:
    """One dataset's ISO 19115 metadata (ISO 19139 XML); 404 in French for an unknown or hidden one."""
    who = viewer()
    body = metadata_xml(_site(), _site() + "/ogc", get_dataset(get_db(), dataset_id, who))
    return Response(body, mimetype=ISO_MEDIA_TYPE, headers=_cache(who.kind))
