"""The running server: /health against the real database, the home page, errors as JSON."""

from app import create_app
from tests.helpers import app_settings


def _app(url):
    return create_app(app_settings(url, pool_min=1, pool_max=2))


def test_health_reports_postgis(db_url):
    client = _app(db_url).test_client()
    response = client.get("/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok" and body["postgis"].startswith("3.")


def test_health_is_503_when_the_database_is_down():
    client = _app("postgresql://nobody:x@127.0.0.1:1/none").test_client()
    response = client.get("/health")
    assert response.status_code == 503
    assert response.get_json()["database"] == "injoignable"


def test_home_page_is_french(db_url):
    response = _app(db_url).test_client().get("/")
    assert response.status_code == 200
    assert 'lang="fr"' in response.get_data(as_text=True)


def test_unknown_path_is_404(db_url):
    assert _app(db_url).test_client().get("/nulle-part").status_code == 404
