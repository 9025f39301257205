#!/usr/bin/env bash
# Installs inspector-app with its test tools and runs the test suite (offscreen Qt, no GPU needed).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export QT_QPA_PLATFORM=offscreen TF_CPP_MIN_LOG_LEVEL=2
lint-imports --no-cache pyproject.toml
exec python -m pytest "$@"
