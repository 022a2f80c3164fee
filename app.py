"""The Flask application factory and the `urbasig` command line. Nothing is created at import time."""

from __future__ import annotations

import json
import logging
import sys
import threading
from datetime import date
from pathlib import Path

import click
from flask import Flask

from cli_texts import VERSION_TEXT, FrenchGroup
from gis.errors import UrbasigError
from layers.plan_terms import PLAN_STATUSES
from settings import Settings

__version__ = "0.1.0"


def create_app(config: Settings | dict | None = None) -> Flask:
    """Build the web application: settings, a lazily opened connection pool, routes, the error boundary."""
    from api import db as request_db
    from api.dev import kept_secret, register_dev
    from api.errors import register_errors
    from api.web import register_web
    from layers.db import app_database_url, make_pool

    settings, test_gateway = _app_settings(config)
    app = Flask(__name__, template_folder="api/templates", static_folder="api/static")
    app.config["URBASIG"] = settings
    app.config["MAX_CONTENT_LENGTH"] = 5 * 1024 * 1024  # geometries come in POST bodies; larger is a 413
    # production requires URBASIG_SECRET_KEY (settings.py); development keeps one in var/secret_key
    app.config["SECRET_KEY"] = settings.secret_key or kept_secret(settings.var_dir, "secret_key")
    app.extensions["urbasig.pool"] = make_pool(
        app_database_url(settings), settings.pool_min, settings.pool_max,
        connect_timeout_s=settings.pool_connect_timeout_s, reconnect_timeout_s=settings.pool_reconnect_timeout_s,
        breaker_open_s=settings.db_breaker_s, outage_wait_s=settings.db_outage_wait_s, least_privilege=True)
    logging.basicConfig(level=settings.log_level)
    register_errors(app)
    from api.security import register_security

    register_security(app)  # before any view: the Host and CSRF checks; the headers on every answer

    from api.inputs import register_inputs

    register_inputs(app)  # before any view: NUL characters, malformed or too deep JSON bodies (400)
    request_db.init_app(app)
    from api.assets import register_assets
    from api.i18n import register_i18n

    register_i18n(app)
    register_assets(app)
    register_web(app)
    from api.ogc.openapi import build_openapi
    from api.ogc.routes import ogc

    app.register_blueprint(ogc)
    from api.notes import notes

    app.register_blueprint(notes)
    from api.accounts import accounts

    app.register_blueprint(accounts)
    from api.official import official

    app.register_blueprint(official)
    from api.panel import register_panel

    register_panel(app)
    from api.search import search

    app.register_blueprint(search)

    from api.planner import planner

    app.register_blueprint(planner)
    from api.spaces import register_spaces

    register_spaces(app)
    register_dev(app, test_gateway)
    from api.dev_pki import register_dev_pki

    register_dev_pki(app)  # the development TSA and CRL, beside the development CA only
    app.extensions["urbasig.openapi"] = build_openapi()  # once, not per request
    if settings.tile_memory_cache_mb:
        from layers.tiles import TileMemory

        app.extensions["urbasig.tile_memory"] = TileMemory(settings.tile_memory_cache_mb * 1024 * 1024,
                                                           settings.tile_versions_ttl_s)
    from api import budget

    budget.init_app(app)  # last: its after_request runs first, before the commit
    return app


def _app_settings(config: Settings | dict | None) -> tuple[Settings, bool]:
    """The settings the app runs with, validated, and whether it mounts the test gateway (development only)."""
    from api.dev import development_settings

    if isinstance(config, Settings):
        settings = config
    else:
        settings = Settings.from_env()
        if config:
            settings = settings.with_(**config)
    settings.validate_production()  # whatever built the settings (with_, a test): production that cannot work stops
    # development: the payment secret under var/, the mounted test gateway's URL when none is configured
    return development_settings(settings), settings.test_gateway


# ---------------------------------------------------------------------------------------------- CLI
def _settings() -> Settings:
    return Settings.from_env()


def _db_url(settings: Settings) -> str:
    """The database URL for a CLI command, starting the embedded cluster when needed."""
    from layers.db import start_embedded

    return settings.database_url or start_embedded(settings)


def _cli_actor() -> str:
    """Who runs a staff command, as the audit trail names them (the operating-system account)."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name for this uid (a container)
        import os

        return f"cli:uid {os.getuid()}"


class _Group(FrenchGroup):
    """Turn our errors into one readable line and a non-zero exit code instead of a traceback (texts in French)."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except UrbasigError as exc:
            click.echo(f"erreur : {exc.message}", err=True)
            if exc.detail and not isinstance(exc.detail, list | dict):
                click.echo(f"  détail : {exc.detail}", err=True)
            sys.exit(2 if exc.status < 500 else 1)


@click.group(cls=_Group, name="urbasig")
@click.version_option(__version__, prog_name="urbasig", help=VERSION_TEXT, message="%(prog)s, version %(version)s")
def cli() -> None:
    """urbasig : serveur de données spatiales d'urbanisme."""


@cli.group(cls=_Group)
def db() -> None:
    """Base de données : cluster PostGIS intégré et migrations."""


@db.command("start")
def db_start() -> None:
    """Démarrer le cluster PostGIS intégré (var/pg) et créer la base."""
    settings = _settings()
    if settings.database_url:
        click.echo("URBASIG_DATABASE_URL est défini : le cluster intégré n'est pas utilisé.")
        return
    from layers.db import start_embedded

    start_embedded(settings)
    click.echo(f"PostGIS intégré prêt sur 127.0.0.1:{settings.pg_port}")


@db.command("stop")
def db_stop() -> None:
    """Arrêter le cluster PostGIS intégré."""
    settings = _settings()
    if settings.database_url:
        return
    from layers.db import embedded_cluster

    cluster = embedded_cluster(settings)
    if cluster.initialized:
        cluster.stop()
        click.echo("PostGIS intégré arrêté")


@db.command("status")
def db_status() -> None:
    """Dire si la base répond, avec les versions et la révision de schéma."""
    from layers import migrate
    from layers.db import connect, database_url, health

    url = database_url(_settings())
    with connect(url) as conn:
        info = health(conn)
    info["revision"] = migrate.current(url) or "aucune"
    click.echo(json.dumps(info, ensure_ascii=False, indent=2))


@db.command("upgrade")
@click.argument("revision", default="head", metavar="[RÉVISION]")
def db_upgrade(revision: str) -> None:
    """Appliquer les migrations (jusqu'à RÉVISION, par défaut la dernière)."""
    from layers import migrate
    from layers.db import set_embedded_app_password

    settings = _settings()
    migrate.upgrade(_db_url(settings), revision)
    if settings.embedded:
        set_embedded_app_password(settings)  # the role exists from migration 0013 on


@db.command("downgrade")
@click.argument("revision", metavar="RÉVISION")
def db_downgrade(revision: str) -> None:
    """Revenir à la révision RÉVISION (« base » pour tout retirer)."""
    from layers import migrate

    migrate.downgrade(_db_url(_settings()), revision)


@cli.command("sample-data")
@click.option("--parcels", "n_parcels", type=int, default=None, help="Nombre de parcelles (20 000 par défaut).")
@click.option("--seed", type=int, default=None, help="Graine du générateur (42 par défaut).")
@click.option("--if-empty", is_flag=True, help="Ne rien faire si des parcelles existent déjà.")
@click.option("--replace", is_flag=True, help="Effacer le territoire existant avant de charger.")
def sample_data(n_parcels: int | None, seed: int | None, if_empty: bool, replace: bool) -> None:
    """Générer et charger le territoire d'exemple (déterministe pour une graine donnée)."""
    from layers.audit import audit
    from layers.db import connect
    from layers.sample import load_sample

    settings = _settings()
    with connect(_db_url(settings)) as conn:
        summary = load_sample(conn, n_parcels or settings.sample_parcels, settings.sample_seed if seed is None else seed,
                              if_empty=if_empty, replace=replace, progress=True)
        if not summary.skipped:  # load_sample commits its load; its line follows in the next transaction
            audit(conn, _cli_actor(), "territoire_exemple.charge", "import", "sample", None,
                  {"parcels": summary.counts.get("parcels"), "replace": replace})
            conn.commit()
    click.echo(summary.describe())
    if not summary.skipped:
        _impact_of_revisions(settings)


def _impact_of_revisions(settings: Settings) -> None:
    """Compute and publish the impact of each plan revision in public inquiry (the map's « Impact du projet »)."""
    from instruction.impact import plan_impact, settings_assumptions
    from layers.db import connect
    from layers.plans import revisions_in_inquiry

    with connect(_db_url(settings)) as conn:
        for from_code, to_code in revisions_in_inquiry(conn):
            result = plan_impact(conn, from_code, to_code, publish=True, assumptions=settings_assumptions(settings))
            conn.commit()
            t = result["totals"]
            click.echo(f"impact du projet {to_code} (en enquête publique) face à {from_code} : {t['parcels']} "
                       f"parcelles, {t['zone_changed']} changent de zone (calcul n° {result['run_id']}, publié)")


@cli.command("import")
@click.argument("path", type=click.Path(path_type=Path), metavar="FICHIER")
@click.option("--layer", "target", required=True, help="Couche cible : parcels, zones, prescriptions, sdau, "
              "communes, roads, establishments.")
@click.option("--mapping", type=click.Path(path_type=Path), help="Fichier TOML de correspondance des attributs.")
@click.option("--source-layer", help="Couche du fichier à lire (GeoPackage, DXF… à plusieurs couches).")
@click.option("--crs", help="SCR des coordonnées quand le fichier n'en déclare pas (ex. EPSG:26191).")
@click.option("--plan", "plan_code", help="Code de la version de plan (zones, prescriptions, sdau).")
@click.option("--repair", is_flag=True, help="Réparer les géométries invalides au lieu de refuser l'import.")
@click.option("--dry-run", is_flag=True, help="Tout vérifier sans rien écrire.")
def import_cmd(path: Path, target: str, mapping: Path | None, source_layer: str | None, crs: str | None,
               plan_code: str | None, repair: bool, dry_run: bool) -> None:
    """Importer un fichier (Shapefile, GeoPackage, GeoJSON, DXF) dans une couche, tout ou rien."""
    from layers.imports import ImportRequest, run_import
    from layers.mapping import load_mapping

    settings = _settings()
    request = ImportRequest(path=path, layer=target, mapping=load_mapping(mapping) if mapping else None,
                            source_layer=source_layer, crs=crs, plan_code=plan_code, repair=repair,
                            dry_run=dry_run, max_features=settings.import_max_features)
    from layers.audit import audit
    from layers.db import connect

    with connect(_db_url(settings)) as conn, conn.transaction():  # the import and its audit line, or neither
        result = run_import(conn, request, progress=True)
        if not result.dry_run:
            audit(conn, _cli_actor(), "import.termine", "import", str(result.import_id), None,
                  {"layer": result.layer, "file": path.name, "features": result.count, "plan": result.plan_code,
                   "repaired": len(result.repaired), "skipped": len(result.skipped)})
    click.echo(result.describe())


@cli.command("export")
@click.argument("layer", metavar="COUCHE")
@click.argument("path", type=click.Path(path_type=Path), metavar="FICHIER")
@click.option("--plan", "plan_code", help="Exporter seulement cette version de plan.")
@click.option("--crs", default="EPSG:26191", show_default=True, help="SCR du fichier écrit.")
def export_cmd(layer: str, path: Path, plan_code: str | None, crs: str) -> None:
    """Écrire une couche (ou une version de plan) en GeoPackage, Shapefile ou GeoJSON (selon l'extension)."""
    from layers.db import connect
    from layers.exports import export_layer

    with connect(_db_url(_settings())) as conn:
        count = export_layer(conn, layer, path, plan_code=plan_code, crs=crs)
    click.echo(f"{count} entité(s) écrite(s) dans {path}")


@cli.command("open-data-build")
@click.option("--dataset", "dataset_ids", multiple=True, metavar="ID", help="Ce jeu de données seulement (répétable).")
@click.option("--format", "formats", multiple=True, type=click.Choice(["gpkg", "geojson", "csv", "shp"]),
              help="Ce format seulement (répétable ; tous par défaut).")
@click.option("--crs", "crs_list", multiple=True, type=click.Choice(["26191", "4326"]),
              help="Ce SCR seulement (répétable ; les deux par défaut).")
def open_data_build(dataset_ids: tuple[str, ...], formats: tuple[str, ...], crs_list: tuple[str, ...]) -> None:
    """Construire d'avance les fichiers des données ouvertes (ceux déjà à jour sont gardés), sans limite de temps."""
    from layers.datasets import get_dataset, list_datasets
    from layers.db import connect
    from layers.open_data import build_all

    settings = _settings()
    with connect(_db_url(settings)) as conn:
        datasets = [get_dataset(conn, i) for i in dataset_ids] if dataset_ids else list_datasets(conn)
        for line in build_all(conn, datasets, settings.download_cache, formats, crs_list):
            click.echo(line)


@cli.command("qa")
@click.argument("plan_code", metavar="PLAN")
@click.option("--json", "as_json", is_flag=True, help="Sortie JSON.")
@click.option("--strict", is_flag=True, help="Code de sortie 1 si un problème est trouvé.")
def qa_cmd(plan_code: str, as_json: bool, strict: bool) -> None:
    """Contrôler une version de plan : trous, chevauchements, zones sans règlement, prescriptions hors périmètre."""
    from layers.db import connect
    from layers.qa import check_plan

    with connect(_db_url(_settings())) as conn:
        report = check_plan(conn, plan_code)
    click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) if as_json else report.describe())
    if strict and not report.ok:
        sys.exit(1)


@cli.command("plans")
@click.option("--on", "day", type=click.DateTime(["%Y-%m-%d"]), help="Statut à cette date (AAAA-MM-JJ).")
def plans_cmd(day: object | None) -> None:
    """Lister les versions de plans : statut à la date (aujourd'hui par défaut) et depuis quand, validité, acte."""
    from layers.db import connect
    from layers.plans import list_plans

    on = day.date() if day else date.today()
    with connect(_db_url(_settings())) as conn:
        plans = list_plans(conn, on)
    click.echo(f"Versions de plans au {on.isoformat()} : {len(plans)}")
    if plans:
        click.echo("\n".join(_plans_table(plans, on)))


def _plans_table(plans: list[dict], on: date) -> list[str]:
    """The lines of the `plans` table: a header, then one plan version a line, columns aligned."""
    from layers.plan_terms import status_label

    headers = ["code", "nature", f"statut au {on.isoformat()}", "depuis", "applicable", "approuvé le", "valable du",
               "fin", "acte d'approbation", "nom"]
    rows = [[p["code"], p["kind"], status_label(p["status_on"]), p["status_since"], "oui" if p["in_force"] else "non",
             p["approval_date"], p["valid_from"], p["valid_to"], p["approval_act"], p["name"]] for p in plans]
    cells = [headers] + [["—" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells]


@cli.command("instruct")
@click.argument("land", nargs=-1, required=True, metavar="RÉF...")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), help="Date de la situation (AAAA-MM-JJ).")
@click.option("--json", "as_json", is_flag=True, help="Résultat JSON complet (déterministe).")
@click.option("--geometry", is_flag=True, help="Inclure les géométries des intersections.")
def instruct_cmd(land: tuple[str, ...], day: object | None, as_json: bool, geometry: bool) -> None:
    """Instruire un terrain : RÉF est une ou plusieurs références (« TF 3875/C »)."""
    from instruction.engine import Options, instruct
    from instruction.findings import canonical_json
    from instruction.land import LandRequest
    from instruction.summary import summary_text
    from layers.db import connect

    settings = _settings()
    options = Options.from_settings(settings, geometry)
    with connect(_db_url(settings)) as conn:
        result = instruct(conn, LandRequest(refs=land), day.date() if day else None, options)
    click.echo(canonical_json(result) if as_json else summary_text(result))


@cli.command("envelope")
@click.argument("land", nargs=-1, required=True, metavar="RÉF...")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), help="Date de la situation (AAAA-MM-JJ).")
@click.option("--json", "as_json", is_flag=True, help="Résultat JSON complet (polygones compris).")
@click.option("--crs", "crs", help="SCR des polygones du JSON (EPSG:26191 par défaut ; ex. EPSG:4326).")
def envelope_cmd(land: tuple[str, ...], day: object | None, as_json: bool, crs: str | None) -> None:
    """Enveloppe constructible d'un terrain : par partie de zone, emprise, hauteur, surface de plancher."""
    from instruction.engine import Options
    from instruction.envelope import envelope, envelope_output, output_crs
    from instruction.envelope_text import envelope_text
    from instruction.findings import canonical_json
    from instruction.land import LandRequest
    from layers.db import connect

    settings = _settings()
    output_crs(crs)  # a bad CRS is said before the land is instructed
    with connect(_db_url(settings)) as conn:
        result = envelope(conn, LandRequest(refs=land), day.date() if day else None, Options.from_settings(settings))
    click.echo(canonical_json(envelope_output(result, crs)) if as_json else envelope_text(result))


@cli.command("bulk-instruct")
@click.argument("commune")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), help="Date de la situation (AAAA-MM-JJ).")
@click.option("--out", type=click.Path(path_type=Path), help="Fichier CSV (sinon sortie standard).")
def bulk_instruct_cmd(commune: str, day: object | None, out: Path | None) -> None:
    """Zonage de toutes les parcelles d'une commune (code ou nom : ANFA, Anfa, maarif) : parts de chaque zone (CSV)."""
    from instruction.bulk import bulk_instruct
    from layers.communes import find_commune
    from layers.db import connect

    with connect(_db_url(_settings())) as conn:
        code = find_commune(conn, commune)["code"]
        summary, text = bulk_instruct(conn, code, day.date() if day else None)
    if out:
        out.write_text(text, encoding="utf-8")
        click.echo(json.dumps(summary, ensure_ascii=False), err=True)
    else:
        click.echo(text, nl=False)


@cli.command("impact")
@click.option("--from", "from_code", required=True, metavar="PLAN", help="Version de plan de départ (en vigueur).")
@click.option("--to", "to_code", required=True, metavar="PLAN", help="Version comparée (par ex. en enquête publique).")
@click.option("--area", metavar="COMMUNE", help="Commune ou arrondissement (code ou nom) ; sinon tout le plan.")
@click.option("--out", type=click.Path(path_type=Path), help="Parcelles en .json (GeoJSON), .csv ou .gpkg.")
@click.option("--crs", help="SCR du fichier (CRS84 pour .json, EPSG:26191 sinon, par défaut).")
@click.option("--no-publish", is_flag=True, help="Ne pas en faire le calcul publié (carte, collection plan-impact).")
def impact_cmd(from_code: str, to_code: str, area: str | None, out: Path | None, crs: str | None,
               no_publish: bool) -> None:
    """Impact d'une version de plan parcelle par parcelle : zone, plancher maximal, usages, surfaces réservées."""
    from gis.errors import FileFormatError
    from instruction.impact import plan_impact, settings_assumptions
    from layers.db import connect
    from layers.impact import impact_export

    fmt = None
    if out is not None:
        fmt = {".json": "json", ".geojson": "json", ".csv": "csv", ".gpkg": "gpkg"}.get(out.suffix.lower())
        if fmt is None:
            raise FileFormatError(f"extension « {out.suffix} » non prise en charge (.json, .csv, .gpkg)")

    def progress(pct: int, message: str) -> None:
        click.echo(f"[{pct:3d} %] {message}", err=True)

    settings = _settings()
    with connect(_db_url(settings)) as conn:
        result = plan_impact(conn, from_code, to_code, area, progress=progress, publish=not no_publish,
                             assumptions=settings_assumptions(settings))
        data = impact_export(conn, result["run_id"], fmt, crs) if fmt else None
        conn.commit()
    if out is not None and data is not None:
        out.write_bytes(data)
    t = result["totals"]
    click.echo(f"impact {from_code} → {to_code}{' sur ' + result['area'] if result['area'] else ''} "
               f"(calcul n° {result['run_id']}{', publié' if result['published'] else ''}) : "
               f"{t['parcels']} parcelles, {t['zone_changed']} changent de zone, {t['gain']} gagnent et "
               f"{t['loss']} perdent de la surface de plancher (+{t['floor_gained_m2']:.0f} / "
               f"−{t['floor_lost_m2']:.0f} m²), {t['with_new_reservation']} nouvellement réservées ou en "
               f"élargissement ({t['reserved_new_m2'] + t['widening_new_m2']:.0f} m²), "
               f"{t['no_longer_buildable']} ne sont plus constructibles, {t['outside']} hors de l'un des deux plans")
    if out is not None:
        click.echo(f"{t['parcels']} parcelle(s) écrite(s) dans {out}")


@cli.group(cls=_Group)
def apikey() -> None:
    """Clés d'API des partenaires (collections et champs réservés)."""


@apikey.command("create")
@click.argument("name", metavar="NOM")
@click.option("--organisation", help="Organisme partenaire de la clé : elle lit aussi ses couches réservées à l'organisme.")
def apikey_create(name: str, organisation: str | None) -> None:
    """Créer la clé d'un partenaire (affichée une seule fois)."""
    from layers.apikeys import create_key
    from layers.audit import audit
    from layers.db import connect

    with connect(_db_url(_settings())) as conn:
        key = create_key(conn, name, organisation)
        audit(conn, _cli_actor(), "cle_api.creee", "api_key", name, None,
              {"name": name, "organisation": organisation})  # never the key
        conn.commit()
    click.echo(key)


@apikey.command("revoke")
@click.argument("name", metavar="NOM")
def apikey_revoke(name: str) -> None:
    """Révoquer la clé d'un partenaire."""
    from layers.apikeys import revoke_key
    from layers.audit import audit
    from layers.db import connect

    with connect(_db_url(_settings())) as conn:
        revoke_key(conn, name)
        audit(conn, _cli_actor(), "cle_api.revoquee", "api_key", name, {"revoked": False}, {"revoked": True})
        conn.commit()
    click.echo(f"clé de « {name} » révoquée")


@apikey.command("list")
def apikey_list() -> None:
    """Lister les clés (jamais les clés elles-mêmes)."""
    from layers.apikeys import list_keys
    from layers.db import connect

    with connect(_db_url(_settings())) as conn:
        for name, created, revoked in list_keys(conn):
            click.echo(f"{name:<30} créée {created:%Y-%m-%d}" + (f", révoquée {revoked:%Y-%m-%d}" if revoked else ""))


@cli.command("mail-deliver")
@click.option("--loop", "interval", type=int, default=0, help="Recommencer toutes les N secondes (0 : une fois).")
def mail_deliver_cmd(interval: int) -> None:
    """Envoyer les courriels en attente ; code de sortie 1 si un envoi échoue (il sera retenté plus tard)."""
    from layers.db import connect
    from notes.mail import NO_SMTP, SmtpSettings, deliver_due, deliver_every

    settings = _settings()
    smtp = SmtpSettings.from_settings(settings)
    stop = _stop_on_signals() if interval else None

    def report(failure: object) -> None:
        click.echo(f"échec : {failure}", err=True)

    if not smtp.host:  # development without SMTP (production refuses to start so): said once, the mail stays queued
        click.echo(NO_SMTP)
        while stop is not None and not stop.wait(1):  # `make run` keeps its companion until the server stops
            pass
        return
    url = _db_url(settings)
    if stop is None:
        with connect(url) as conn:
            sent, failed = deliver_due(conn, smtp, on_failure=report)
        click.echo(f"{sent} courriel(s) envoyé(s), {failed} échec(s)")
        sys.exit(1 if failed else 0)
    click.echo(f"envoi des courriels toutes les {interval} s par {smtp.host}:{smtp.port}")
    deliver_every(lambda: connect(url), smtp, interval, stop, click.echo, report)


def _stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT (Ctrl-C, `make run`'s trap): a loop ends after its current round."""
    import signal

    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    return stop


@cli.command("staff-account")
@click.argument("email", metavar="COURRIEL")
@click.argument("role", type=click.Choice(["instructor", "signatory", "partner", "admin"]), metavar="RÔLE")
@click.option("--name", "full_name", required=True, help="Nom complet.")
@click.option("--organisation", help="Organisme d'un compte partenaire (commune, conservation foncière, régie…).")
@click.password_option(help="Mot de passe (10 caractères au moins).", prompt="Mot de passe")
def staff_account_cmd(email: str, role: str, full_name: str, organisation: str | None, password: str) -> None:
    """Créer le compte d'un instructeur, d'un signataire, d'un partenaire ou d'un administrateur."""
    from layers.accounts import create_account
    from layers.audit import audit
    from layers.db import connect

    with connect(_db_url(_settings())) as conn:
        account_id, _ = create_account(conn, email, full_name, password, role=role, verified=True,
                                       organisation=organisation)
        audit(conn, _cli_actor(), "compte_personnel.cree", "account", str(account_id), None,
              {"email": email, "role": role})
        conn.commit()
    click.echo(f"compte {role} n° {account_id} créé pour {email}")


DEMO_ACCOUNTS = (("instructeur@demo.urbasig.ma", "instructor", "Instructeur de démonstration", None),
                 ("signataire@demo.urbasig.ma", "signatory", "Signataire de démonstration", None),
                 ("partenaire@demo.urbasig.ma", "partner", "Partenaire de démonstration", "Commune d'Anfa (démonstration)"),
                 ("admin@demo.urbasig.ma", "admin", "Administrateur de démonstration", None))
DEMO_FILE = "comptes-demo.txt"


@cli.command("demo-accounts")
def demo_accounts_cmd() -> None:
    """Développement : créer les comptes de démonstration manquants (instructeur, signataire, partenaire, admin).

    Leurs mots de passe, tirés au hasard, sont écrits dans var/comptes-demo.txt (lisible par vous seul) ; refusé en
    production.
    """
    import secrets

    from layers.accounts import create_account
    from layers.accounts import exists as account_exists
    from layers.audit import audit
    from layers.db import connect

    settings = _settings()
    if not settings.development:
        raise click.ClickException("les comptes de démonstration n'existent qu'en développement (URBASIG_ENV)")
    path = Path(settings.var_dir) / DEMO_FILE
    kept = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    made = []
    with connect(_db_url(settings)) as conn:
        for email, role, name, organisation in DEMO_ACCOUNTS:
            if account_exists(conn, email):
                continue
            password = secrets.token_urlsafe(12)
            account_id, _ = create_account(conn, email, name, password, role=role, verified=True,
                                           organisation=organisation)
            audit(conn, _cli_actor(), "compte_demo.cree", "account", str(account_id), None, {"role": role})
            made.append(f"{role:<10} {email}  {password}")
        conn.commit()
    if made:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join([*kept, *made]) + "\n", encoding="utf-8")
        path.chmod(0o600)
    click.echo(f"comptes de démonstration ({len(made)} créé(s)) : {path}")


@cli.command("plan-status")
@click.argument("plan_code", metavar="PLAN")
@click.argument("status", type=click.Choice(list(PLAN_STATUSES)), metavar="STATUT")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), required=True,
              help="Date d'effet (AAAA-MM-JJ) ; pour l'homologation, la date de l'acte d'approbation.")
@click.option("--act", help="Acte (décret, arrêté, jugement…).")
@click.option("--in-force-from", "in_force", type=click.DateTime(["%Y-%m-%d"]),
              help="Homologation : date d'entrée en vigueur si elle suit l'acte (publication au Bulletin officiel).")
def plan_status_cmd(plan_code: str, status: str, day: object, act: str | None, in_force: object | None) -> None:
    """Enregistrer un nouveau statut de plan (l'homologation remplace la version précédente)."""
    from layers.db import connect
    from layers.plans import record_new_status

    start = in_force.date() if in_force else None
    with connect(_db_url(_settings())) as conn, conn.transaction():
        record_new_status(conn, _cli_actor(), plan_code, status, day.date(), act, in_force_from=start)
    click.echo(f"{plan_code} : {status} au {day.date()}" + (f", en vigueur à partir du {start}" if start else ""))


@cli.group(cls=_Group)
def audit() -> None:
    """Journal d'audit : vérifier la chaîne d'empreintes."""


@audit.command("verify")
@click.option("--witness", type=click.Path(path_type=Path), metavar="FICHIER",
              help="Têtes relevées (« id sha256 » par ligne) : chacune doit être encore dans la chaîne ; "
                   "la tête actuelle y est ajoutée quand tout est intègre.")
def audit_verify_cmd(witness: Path | None) -> None:
    """Parcourir la chaîne du journal d'audit ; code de sortie 1 si une ligne est modifiée, supprimée ou tronquée."""
    from layers.audit import verify_chain
    from layers.db import connect

    witnesses = _read_witnesses(witness) if witness and witness.exists() else []
    with connect(_db_url(_settings())) as conn:
        report = verify_chain(conn, witnesses)
    click.echo(report.describe())
    if not report.ok:
        sys.exit(1)
    if witness and report.head_id is not None and (report.head_id, report.head_hash) not in witnesses:
        with open(witness, "a", encoding="utf-8") as handle:
            handle.write(f"{report.head_id} {report.head_hash}\n")


def _read_witnesses(path: Path) -> list[tuple[int, str]]:
    """The (id, hash) heads of a witness file; a malformed line is an error, not silently skipped."""
    from gis.errors import InputError

    heads = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit() or len(parts[1]) != 64:
            raise InputError(f"{path}, ligne {number} : attendu « id sha256 » (ex. « 42 9f86d0… »)")
        heads.append((int(parts[0]), parts[1]))
    return heads


@cli.command("backup")
@click.argument("path", type=click.Path(path_type=Path), metavar="FICHIER")
def backup_cmd(path: Path) -> None:
    """Sauvegarder la base (pg_dump), la clé de session et le matériel de signature dans une archive (mode 600)."""
    from layers.backup import backup, material

    settings = _settings()
    extra = material(settings.var_dir, bool(settings.secret_key), settings.signing_key, settings.signing_cert,
                     settings.signing_ca)
    manifest = backup(_db_url(settings), path, extra, settings.pg_bindir)
    head = manifest["audit_head"] or {}
    click.echo(f"sauvegarde écrite dans {path} : révision {manifest['revision']}, {len(manifest['files'])} fichier(s), "
               f"tête du journal d'audit {head.get('id')} {head.get('sha256')}")
    if manifest["signing"] == "external":
        click.echo("clé de signature externe (URBASIG_SIGNING_KEY) : non copiée, seuls ses certificats le sont")


@cli.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path), metavar="FICHIER")
def restore_cmd(path: Path) -> None:
    """Restaurer une sauvegarde dans une base vide (créée au besoin), rôles et droits compris."""
    from layers.backup import restore
    from layers.db import set_embedded_app_password

    settings = _settings()
    manifest = restore(path, _db_url(settings), settings.var_dir, settings.pg_bindir)
    if settings.embedded:
        set_embedded_app_password(settings)
    click.echo(f"sauvegarde du {manifest['created_at']} restaurée (révision {manifest['revision']}) ; "
               "vérifiez le journal : urbasig audit verify")


@cli.group(cls=_Group)
def jobs() -> None:
    """Travaux longs : les processus OGC exécutés en différé (Prefer: respond-async)."""


@jobs.command("work")
@click.option("--loop", is_flag=True, help="Attendre les travaux et les exécuter jusqu'à l'arrêt (TERM, Ctrl-C).")
@click.option("--once", is_flag=True, help="Exécuter au plus un travail, puis s'arrêter.")
def jobs_work_cmd(loop: bool, once: bool) -> None:
    """Exécuter les travaux acceptés par le serveur (sans option : jusqu'à ce que la file soit vide).

    Se connecte avec le rôle du serveur web (URBASIG_APP_DATABASE_URL), jamais avec le propriétaire des tables.
    """
    from api.ogc.runner import RunnerSettings, work
    from layers.db import app_database_url, connect

    if loop and once:
        raise click.UsageError("--loop et --once s'excluent")
    settings = _settings()
    if settings.embedded:
        _db_url(settings)  # start the embedded cluster when needed (as the other commands)
    url = app_database_url(settings)
    stop = _stop_on_signals()
    mode = "loop" if loop else "once" if once else "drain"
    if loop:
        click.echo(f"exécution des travaux : nouvel examen de la file toutes les {settings.jobs_poll_s:g} s")
    done = work(lambda autocommit: connect(url, autocommit), RunnerSettings.from_settings(settings), stop, click.echo,
                mode)
    if not loop:
        click.echo(f"{done} travail(aux) exécuté(s)")


@cli.group(cls=_Group)
def tiles() -> None:
    """Tuiles vectorielles de la carte publique (cache en base)."""


@tiles.command("seed")
@click.option("--zoom", "zooms", default="10-16", show_default=True, metavar="N-M", help="Niveaux à semer (10 à 18).")
@click.option("--area", metavar="COMMUNE", help="Commune ou arrondissement (code ou nom) ; sinon toute l'étendue.")
@click.option("--collection", "collections", multiple=True, metavar="NOM",
              help="Collection à semer (répétable) ; sinon toutes celles de la carte.")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]),
              help="Plans en vigueur ce jour (AAAA-MM-JJ ; par défaut aujourd'hui, comme la carte).")
def tiles_seed_cmd(zooms: str, area: str | None, collections: tuple[str, ...], day: object | None) -> None:
    """Remplir le cache de tuiles avec celles de la carte publique qui peuvent contenir des données.

    Les tuiles déjà en cache à la version courante des couches sont sautées : un semis interrompu reprend là où
    il s'est arrêté. Une écriture dans une couche invalide ses tuiles semées comme les autres.
    """
    from tqdm import tqdm

    from layers.bulk import show_bar
    from layers.db import connect
    from layers.tile_seed import parse_zooms, seed_tiles
    from layers.tiles import CacheCap

    settings = _settings()
    levels = parse_zooms(zooms)
    if not settings.tile_cache:
        raise click.UsageError("URBASIG_TILE_CACHE=false : le cache de tuiles est désactivé, rien à semer")
    cap = CacheCap(settings.tile_cache_max_rows, settings.tile_cache_max_mb * 1024 * 1024)
    bar = tqdm(desc="tuiles", unit=" tuile", disable=not show_bar(True), leave=False, mininterval=0.5)

    def progress(done: int, planned: int) -> None:
        if bar.total != planned:
            bar.total = planned
        bar.update(done - bar.n)

    with connect(_db_url(settings)) as conn:
        report = seed_tiles(conn, levels, area, collections, day.date() if day else None,  # type: ignore[attr-defined]
                            cap, progress, lambda line: tqdm.write(f"urbasig : {line}"))
    bar.close()
    click.echo(f"{report.built} tuile(s) construite(s) et mise(s) en cache, {report.already} déjà en cache, "
               f"{report.empty} vide(s), sur {report.planned} pouvant contenir des données "
               f"({report.seeded_bytes / 1024 / 1024:.1f} Mio en cache pour ce semis)")
    if report.stopped_at_cap:
        sys.exit(1)


@cli.group(cls=_Group)
def notes() -> None:
    """Notes signées : vérifier un PDF, ajouter les horodatages d'archive (PAdES B-LTA)."""


@notes.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path), metavar="FICHIER")
@click.option("--trust", "trust", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              metavar="PEM", help="Certificat racine de confiance (par défaut : celui de l'agence configuré).")
@click.option("--at", "moment", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]), default=None,
              metavar="DATE", help="Vérifier comme à cette date (UTC, AAAA-MM-JJ ou AAAA-MM-JJTHH:MM:SS), par ex. "
              "dans dix ans ; par défaut maintenant.")
@click.option("--json", "as_json", is_flag=True, help="Résultat en JSON.")
def notes_verify_cmd(file: Path, trust: tuple[Path, ...], moment: object | None, as_json: bool) -> None:
    """Vérifier hors ligne la signature d'une note (code de sortie 1 si elle n'est pas valide)."""
    from datetime import UTC

    from notes.official import long_term
    from notes.signing import trust_roots, verify_pdf

    roots = list(trust) or trust_roots(_settings())
    at = moment.replace(tzinfo=UTC) if moment is not None else None  # type: ignore[attr-defined]
    check = verify_pdf(file.read_bytes(), roots, at)
    if as_json:
        click.echo(json.dumps({"signature_valid": check.valid, "signer": check.signer, **long_term(check)},
                              ensure_ascii=False, indent=2))
    else:
        click.echo(check.describe())
    if not check.valid:
        sys.exit(1)


@notes.command("refresh-ltv")
@click.option("--within-days", default=365, show_default=True, type=click.IntRange(0), metavar="JOURS",
              help="Rafraîchir les notes dont le dernier horodatage d'archive expire dans ce délai (ou inconnu).")
@click.option("--number", "numbers", multiple=True, metavar="N", help="Seulement cette note (répétable).")
def notes_refresh_cmd(within_days: int, numbers: tuple[str, ...]) -> None:
    """Ajouter aux notes délivrées les données de révocation du jour et un nouvel horodatage d'archive."""
    from datetime import UTC, datetime, timedelta

    from layers.db import connect
    from notes.official import refresh_notes
    from notes.signing import signing_material

    settings = _settings()
    files, ltv = signing_material(settings)
    before = datetime.now(UTC) + timedelta(days=within_days)
    with connect(_db_url(settings), autocommit=True) as conn:
        report = refresh_notes(conn, files, ltv, before, _cli_actor(), list(numbers) or None)
    for number in report.done:
        click.echo(f"{number} : horodatage d'archive ajouté")
    for number, reason in report.refused:
        click.echo(f"{number} : non rafraîchie — {reason}", err=True)
    click.echo(f"{len(report.done)} note(s) rafraîchie(s), {len(report.refused)} impossible(s) ; encore dues : "
               f"{report.remaining}, refusées récemment et écartées pour l'instant : {report.skipped}")
    if report.refused:
        sys.exit(1)


@notes.command("revoke-cert")
@click.argument("serial")
@click.option("--reason", default="compromission", show_default=True,
              type=click.Choice(["compromission", "remplacement", "cessation", "non-precise"]))
def notes_revoke_cmd(serial: str, reason: str) -> None:
    """Développement : révoquer un certificat de l'autorité locale (n° de série en hexadécimal) ; la CRL suit."""
    from notes.pki import DevPki, revoke

    settings = _settings()
    if settings.signing_key:
        raise UrbasigError("la révocation se fait auprès de l'autorité qui a émis URBASIG_SIGNING_CERT, pas ici")
    try:
        number = int(serial.removeprefix("0x").replace(":", ""), 16)
    except ValueError:
        raise click.BadParameter("numéro de série hexadécimal attendu (ex. 3f2a…)") from None
    entry = revoke(DevPki(Path(settings.var_dir) / "signing"), number, reason)
    click.echo(f"certificat {entry.serial:x} révoqué le {entry.revoked_at.isoformat()} ({entry.reason}) ; "
               "CRL publiée sur /dev/ca.crl")


def main() -> None:
    """Entry point of the `urbasig` console script."""
    cli()


if __name__ == "__main__":
    main()
