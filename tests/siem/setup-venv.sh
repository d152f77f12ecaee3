#!/usr/bin/env bash
# Builds the venv the SIEM tests use (crates/floodwatch/tests/cli/siem.rs): sigma-cli, pySigma with the
# SigmaHQ validators and the Splunk, Elasticsearch, Kusto and DuckDB backends, and duckdb, pinned in
# tests/siem/requirements.txt, from PyPI. Idempotent: a venv built from the same requirements is kept.
# Where: $FLOODWATCH_SIEM_VENV, else target/siem-venv in the repository.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV="${FLOODWATCH_SIEM_VENV:-$PWD/target/siem-venv}"
REQ=tests/siem/requirements.txt
STAMP="$VENV/.floodwatch-requirements"
if [ -x "$VENV/bin/python" ] && cmp -s "$REQ" "$STAMP"; then
    echo "siem venv: up to date in $VENV"
    exit 0
fi
rm -rf "$VENV"
# Debian splits venv support out of python3: install it when a fresh machine lacks it.
if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
    rm -rf "$VENV"
    echo "siem venv: python3 venv support missing, installing python3-venv" >&2
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq python3-venv python3-pip >/dev/null
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQ"
cp "$REQ" "$STAMP"
echo "siem venv: built in $VENV ($("$VENV/bin/python" -m pip --disable-pip-version-check list 2>/dev/null | grep -ci sigma) sigma packages)"
