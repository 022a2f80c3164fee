"""The package as an agency installs it: a real wheel in a fresh virtualenv, served outside the checkout.

Also: the development payment gateway is outside the server's imports, and every runtime dependency
declared in pyproject.toml is imported by the server (and every third-party import is declared).
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import tomllib
import zipfile
from pathlib import Path

import pytest
import requests

from tests.helpers import app_url

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SERVER_MODULES = tuple(f"{m}.py" for m in PYPROJECT["tool"]["setuptools"]["py-modules"])
SERVER_PACKAGES = ("gis", "layers", "instruction", "api", "notes", "data")
PLUGIN_PACKAGES = ("urbasig_pygeoapi",)
NOT_SHIPPED = ("tests", "bench", "devtools", "docs", "scripts")
SKIP_PARTS = {"__pycache__", "node_modules"}
# Declared and run as a program, not imported: the WSGI server of `make run` and of deployments.
PROGRAMS = {"gunicorn": "gunicorn"}


def _source_files() -> list[str]:
    """Every file of the shipped packages in the source tree, as a path inside the wheel."""
    files = list(SERVER_MODULES)
    for package in (*SERVER_PACKAGES, *PLUGIN_PACKAGES):
        for path in sorted((ROOT / package).rglob("*")):
            rel = path.relative_to(ROOT)
            if path.is_file() and not SKIP_PARTS & set(rel.parts) and path.suffix != ".pyc":
                files.append(rel.as_posix())
    return files


def _env(**extra: str) -> dict[str, str]:
    """The environment of a child process: no PYTHONPATH, no URBASIG_* from the caller."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("URBASIG_")}
    return {**env, **extra}


# -------------------------------------------------------------------------------------- the wheel itself
@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a copy of the checkout (the build writes build/ and *.egg-info: not in the tree)."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".venv", "var", ".git", "__pycache__", "*.egg-info",
                                                                "build", "dist", ".pytest_cache", ".ruff_cache",
                                                                "node_modules"))
    out = base / "dist"
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--wheel-dir",
                    str(out), str(source)], check=True, capture_output=True, env=_env(), timeout=300)
    print(f"wheel built in {time.perf_counter() - started:.1f} s")
    (built,) = out.glob("urbasig-*.whl")
    return built


def test_the_wheel_holds_every_file_of_the_packages_and_nothing_else(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [f for f in _source_files() if f not in names]
    assert not missing, f"absent du wheel : {missing}"
    # the figures of the issue: ten templates (then more), the example mappings, every migration
    assert len([n for n in names if n.startswith("api/templates/") and n.endswith(".html")]) >= 10
    assert len([n for n in names if n.startswith("data/mappings/") and n.endswith(".toml")]) >= 3
    assert len([n for n in names if re.fullmatch(r"layers/migrations/versions/\d{4}_\w+\.py", n)]) >= 12
    assert "instruction/schema/instruction-result.schema.json" in names
    assert "urbasig_pygeoapi/provider.py" in names
    shipped_dirs = {n.split("/", 1)[0] for n in names if "/" in n}
    assert not shipped_dirs & set(NOT_SHIPPED), shipped_dirs
    assert "notes/gateway.py" not in names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "urbasig = app:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


# ----------------------------------------------------------------------- installed in a fresh virtualenv
@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh virtualenv with the wheel installed (--no-deps); the dependencies come from the project's venv.

    `python -m venv --system-site-packages` from inside a venv would see the *base* interpreter's packages,
    not the project's: a .pth file adds the project venv's site-packages after the new venv's own, so the
    installed wheel wins and nothing is downloaded. Lines of a .pth are plain paths: the editable install's
    own hook (a .pth inside that directory) is not run, so the checkout is not importable from there.
    """
    venv = tmp_path_factory.mktemp("venv") / "v"
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    Path(purelib, "urbasig-test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index",
                    str(wheel)], check=True, capture_output=True, env=_env(), timeout=300)
    print(f"virtualenv and install in {time.perf_counter() - started:.1f} s")
    return venv


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_installed_package_runs_its_cli_migrates_and_serves_outside_the_checkout(installed, empty_db_url,
                                                                                      tmp_path):
    work = tmp_path / "site"  # an agency's working directory: var/ goes here, nothing is read from the checkout
    work.mkdir()
    python, urbasig = installed / "bin" / "python", installed / "bin" / "urbasig"
    env = _env(URBASIG_DATABASE_URL=empty_db_url, URBASIG_APP_DATABASE_URL=app_url(empty_db_url))

    where = subprocess.run([str(python), "-c", "import app, api, layers, data, settings, urbasig_pygeoapi; "
                            "print(app.__file__, api.__file__, layers.__file__, data.__file__, settings.__file__)"],
                           cwd=work, env=env, check=True, capture_output=True, text=True).stdout.split()
    assert all(Path(p).is_relative_to(installed) for p in where), where

    helped = subprocess.run([str(urbasig), "--help"], cwd=work, env=env, capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0, helped.stderr
    for command in ("db", "import", "sample-data", "export"):
        assert command in helped.stdout

    # migrations and the example mappings come from the installed package
    subprocess.run([str(urbasig), "db", "upgrade"], cwd=work, env=env, check=True, capture_output=True, timeout=120)
    probe = ("import json; from importlib.resources import files; from app import create_app; "
             "from layers.mapping import load_mapping; "
             "mappings = sorted(p.name for p in (files('data') / 'mappings').iterdir()); "
             "[load_mapping(files('data') / 'mappings' / m) for m in mappings]; "
             "app = create_app(); print(json.dumps({'templates': sorted(app.jinja_env.list_templates()), "
             "'mappings': mappings, 'root': app.root_path}))")
    found = json.loads(subprocess.run([str(python), "-c", probe], cwd=work, env=env, check=True, capture_output=True,
                                      text=True).stdout)
    source_templates = sorted(p.relative_to(ROOT / "api" / "templates").as_posix()
                              for p in (ROOT / "api" / "templates").rglob("*.html"))
    assert found["templates"] == source_templates
    assert found["mappings"] == sorted(p.name for p in (ROOT / "data" / "mappings").glob("*.toml"))
    assert Path(found["root"]).is_relative_to(installed)

    port = _free_port()
    server = subprocess.Popen([str(python), "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1",
                               "--log-level", "warning", "app:create_app()"], cwd=work, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                health = requests.get(f"{base}/health", timeout=5)
                break
            except (requests.ConnectionError, requests.Timeout):  # still importing on a loaded machine
                assert server.poll() is None, server.stdout.read()
                assert time.monotonic() < deadline, "le serveur installé ne répond pas"
                time.sleep(0.2)
        assert health.status_code == 200 and health.json()["database"] == "joignable"
        home = requests.get(f"{base}/", timeout=10)
        assert home.status_code == 200 and "urbasig</h1>" in home.text
        for path in ("/verify", "/ogc/?f=html", "/ogc/collections?f=html", "/ogc/collections/parcels/items?f=html"):
            page = requests.get(base + path, timeout=10)
            assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html"), path
    finally:
        server.terminate()
        server.wait(timeout=30)
    # var/ is relative to the working directory, never beside the installed code
    assert (work / "var" / "secret_key").is_file()
    assert not list(installed.rglob("secret_key"))


# ----------------------------------------------------------------------------- the development gateway
def test_the_server_never_imports_the_development_gateway(db_url):
    program = f"""
import importlib, json, pkgutil, sys
from app import create_app
from settings import Settings
app = create_app(Settings(database_url={db_url!r}, app_database_url={app_url(db_url)!r},
                          payment_gateway_url="https://paiement.example/pay"))  # a real gateway: nothing mounted
with app.test_client() as client:
    client.get("/")
after_app = sorted(m for m in sys.modules if "gateway" in m or m.split(".")[0] == "devtools")
for package in {list(SERVER_PACKAGES)!r}:
    for info in pkgutil.walk_packages(importlib.import_module(package).__path__, package + "."):
        importlib.import_module(info.name)
after_all = sorted(m for m in sys.modules if "gateway" in m or m.split(".")[0] == "devtools")
print(json.dumps([after_app, after_all]))
"""
    out = subprocess.run([sys.executable, "-c", program], cwd=ROOT, env=_env(), check=True, capture_output=True,
                         text=True, timeout=120).stdout
    assert json.loads(out.splitlines()[-1]) == [[], []]
    assert not (ROOT / "notes" / "gateway.py").exists()
    assert (ROOT / "devtools" / "gateway.py").is_file()


# --------------------------------------------------------------------------------- declared dependencies
def _imports(packages: tuple[str, ...], modules: tuple[str, ...] = ()) -> set[str]:
    """Top-level names of every absolute import in these packages and modules."""
    files = [ROOT / m for m in modules] + [f for p in packages for f in (ROOT / p).rglob("*.py")]
    names: set[str] = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_names(specs: list[str]) -> set[str]:
    return {_canonical(re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", spec).group(0)) for spec in specs}


def _third_party(names: set[str]) -> dict[str, set[str]]:
    """Import name -> the distributions that provide it (from the installed metadata), first-party left out."""
    first_party = {Path(m).stem for m in SERVER_MODULES} | set(SERVER_PACKAGES) | set(PLUGIN_PACKAGES)
    first_party.add("devtools")  # ours, not shipped: api/dev.py imports the test gateway only to mount it (development)
    providers = importlib.metadata.packages_distributions()
    return {n: {_canonical(d) for d in providers.get(n, [])} for n in names - first_party - sys.stdlib_module_names}


def test_every_runtime_dependency_is_imported_by_the_server_and_every_import_is_declared():
    runtime = _requirement_names(PYPROJECT["project"]["dependencies"])
    imported = _third_party(_imports(SERVER_PACKAGES, SERVER_MODULES))
    undeclared = {name: dists for name, dists in imported.items() if not dists & runtime}
    assert not undeclared, f"importés sans être déclarés dans dependencies : {undeclared}"
    used = set().union(*imported.values())
    unused = runtime - used - set(PROGRAMS)
    assert not unused, f"déclarés dans dependencies sans qu'aucun module du serveur ne les importe : {unused}"
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for dist, program in PROGRAMS.items():
        assert dist in runtime and re.search(rf"\$\(BIN\)/{program}\b", makefile), f"{program} n'est plus lancé"
    assert not {"geoalchemy2", "psycopg2-binary", "pyyaml"} & runtime


def test_the_pygeoapi_plugin_needs_only_its_extra():
    runtime = _requirement_names(PYPROJECT["project"]["dependencies"])
    extra = _requirement_names(PYPROJECT["project"]["optional-dependencies"]["pygeoapi"])
    imported = _third_party(_imports(PLUGIN_PACKAGES))
    assert {name for name, dists in imported.items() if not dists & (runtime | extra)} == set()
    assert any(dists & extra for dists in imported.values())  # the extra is used
