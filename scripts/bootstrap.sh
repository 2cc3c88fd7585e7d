#!/usr/bin/env bash
# Install everything li-campaign needs into ./.venv on a fresh Debian 12 / Python 3.11 machine.
# Idempotent: a second run only checks that the stamp is current.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
STAMP="$VENV/.bootstrap-stamp"
HASH=$(cat requirements.txt pyproject.toml scripts/bootstrap.sh scripts/gpaw-siteconfig.py | sha256sum | cut -c1-16)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$HASH" ]; then exit 0; fi

SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
need_apt=""
for p in libxc-dev libopenblas-dev libfftw3-dev; do
  dpkg -s "$p" >/dev/null 2>&1 || need_apt="$need_apt $p"
done
if [ -n "$need_apt" ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $need_apt
fi

PY=${PYTHON:-python3}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP="$VENV/bin/python -m pip"
$PIP install -q --upgrade pip wheel
$PIP install -q torch==2.13.0                     # FIRST: the CPU wheel (a bare `torch` pulls CUDA)
$PIP install -q -r requirements.txt
if ! "$VENV/bin/python" -c "import gpaw" 2>/dev/null; then
  GPAW_CONFIG="$PWD/scripts/gpaw-siteconfig.py" $PIP install -q gpaw==26.7.0   # ~75 s C build
fi
$PIP install -q --no-deps -e .
echo "$HASH" > "$STAMP"
