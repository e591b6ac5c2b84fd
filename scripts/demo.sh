#!/usr/bin/env bash
# The main job of the README: set up a fresh machine, then run `hiergym demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec hiergym demo "$@"
