#!/usr/bin/env bash
# Everything a fresh machine needs, idempotent. Used by the README's test command (.ci/run) and scripts/demo.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
# The CPU build of torch: on this kind of machine pip takes torch==2.13.0 from a local file;
# an unpinned `torch` would pull a multi-GB CUDA build.
if ! "$PY" -c "import torch" 2>/dev/null; then
  "$PY" -m pip install --quiet "torch==2.13.0"
fi
"$PY" -m pip install --quiet -e ".[dev,docs,web,textworld,parquet,ray]"
# Browser tests drive Debian's chromium through selenium (optional: tests skip without it).
if [ "${HIERGYM_SKIP_APT:-0}" != "1" ] && ! command -v chromedriver >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null) \
    || echo "setup: chromium not installed; browser tests will be skipped" >&2
fi
