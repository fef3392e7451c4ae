#!/usr/bin/env bash
# The Matrix benchmark: starts a throwaway Synapse (scripts/synapse.sh) and runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/synapse.sh
trap synapse_stop EXIT
synapse_start
cargo bench --bench matrix
