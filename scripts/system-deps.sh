#!/usr/bin/env bash
# Install the system packages urbasig needs (PostGIS for PostgreSQL 15, GDAL's command-line tools),
# only when they are missing. Runs as root, or through sudo for a user who has it.
set -euo pipefail
missing=()
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$pgbin" ] || [ ! -x "$pgbin/initdb" ]; then missing+=(postgresql-15); fi
if ! ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1; then
  missing+=(postgresql-15-postgis-3)
fi
command -v ogr2ogr >/dev/null 2>&1 || missing+=(gdal-bin)
command -v runuser >/dev/null 2>&1 || missing+=(util-linux)
command -v pdftotext >/dev/null 2>&1 || missing+=(poppler-utils)  # tests read the notes' PDF text
command -v npm >/dev/null 2>&1 || missing+=(npm)  # npm ci: the browser libraries (package-lock.json)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)  # the browser tests (Playwright drives it)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "urbasig: installation des paquets système manquants : ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "urbasig: il faut être root (ou avoir sudo) pour installer : ${missing[*]}" >&2; exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
