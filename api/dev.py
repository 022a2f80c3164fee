"""Development mode out of the box: secrets kept under var/, and the local test gateway mounted in the app.

In development (URBASIG_ENV=development, the default) a new machine runs the whole official chain with nothing
configured: the session key and the payment secret are generated once and kept under var/ (every worker and
every restart reads the same ones, so an order signed by one worker verifies in another's callback), and with
no URBASIG_PAYMENT_GATEWAY_URL the payment form goes to the test gateway served by the app itself under
/dev/passerelle/ (devtools/gateway.py, labelled as a test; its callback comes back server to server to the
public URL, which gunicorn's threads, or the threaded test server, answer while the confirmation waits).
Production never gets here: its settings must name real secrets and a real gateway (settings.py).
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from flask import Flask, Response, render_template

from gis.errors import ConfigError
from settings import Settings

log = logging.getLogger(__name__)

TEST_GATEWAY_PREFIX = "/dev/passerelle"
GATEWAY_MISSING = ("passerelle de paiement de test indisponible (devtools/ absent : paquet installé sans la copie "
                   "de travail) ; définissez URBASIG_PAYMENT_GATEWAY_URL et URBASIG_PAYMENT_SECRET pour payer")

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
EXPOSED = ("mode développement refusé sur %s : sa passerelle de paiement de TEST laisserait « payer » sans argent ; "
           "le mode développement ne sert qu'une adresse locale (127.0.0.1, localhost) ; un service public se lance "
           "avec URBASIG_ENV=production et la passerelle de la banque (URBASIG_PAYMENT_GATEWAY_URL), ou, pour une "
           "démonstration en réseau, avec une passerelle de test servie à part (python -m devtools.gateway)")


def kept_secret(var_dir: Path, name: str) -> str:
    """A random secret created once as var/<name> (mode 600), the same for every worker and restart.

    Workers start together: the file is written whole under a temporary name, then linked to its name, which
    fails if another process got there first (then its secret is the one read), so no two workers differ.
    """
    path = Path(var_dir) / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{name}.{os.getpid()}.{secrets.token_hex(4)}")
        draft.write_text(secrets.token_urlsafe(48))
        draft.chmod(0o600)
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


def development_settings(settings: Settings) -> Settings:
    """Fill what development leaves empty: the payment secret (var/payment_secret), the test gateway's address."""
    if not settings.development:
        return settings
    changes: dict[str, object] = {}
    if not settings.payment_secret:
        changes["payment_secret"] = kept_secret(settings.var_dir, "payment_secret")
    if settings.test_gateway:
        changes["payment_gateway_url"] = f"{settings.public_base}{TEST_GATEWAY_PREFIX}/pay"
    return settings.with_(**changes) if changes else settings


def gateway_page(fields: dict[str, str], confirm_url: str) -> Response:
    """The mounted test gateway's payment page: the site's frame, French and Arabic, TEST in big letters."""
    return Response(render_template("dev/gateway.html", fields=fields, confirm_url=confirm_url,
                                    amount=fields.get("amount", ""), order=fields.get("oid", "")))


def register_dev(app: Flask, test_gateway: bool) -> None:
    """Mount the test gateway under /dev/passerelle/ when development runs without a real one."""
    if not test_gateway:
        return
    try:  # devtools/ is in the checkout (make run), never in the wheel: an installed package says what to set
        from devtools.gateway import gateway_blueprint
    except ImportError:
        log.warning(GATEWAY_MISSING)
        return
    settings = app.config["URBASIG"]
    if settings.public_host not in LOOPBACK:  # a forgotten URBASIG_ENV=production must not hand out free notes
        raise ConfigError(EXPOSED % settings.public_base)
    app.register_blueprint(gateway_blueprint(settings.payment_secret, page=gateway_page), url_prefix=TEST_GATEWAY_PREFIX)
    app.extensions["urbasig.test_gateway"] = True
    log.info("mode développement : passerelle de paiement de TEST montée sur %s%s/pay (aucun argent réel)",
             settings.public_base, TEST_GATEWAY_PREFIX)
