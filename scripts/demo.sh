#!/usr/bin/env bash
# Installs inspector-app (first run: a few minutes) and starts it on its built-in demo parts.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
exec inspector-app demo "$@"
