#!/usr/bin/env bash
# Creates (or reuses) the virtual environment outside the clone and installs this checkout into it.
# Dependencies are reinstalled only when pyproject.toml changes (a stamp file holds its hash), because
# TensorFlow takes minutes to install; the project itself is re-linked every time (seconds).
# Usage: source scripts/env.sh [EXTRAS]   e.g. `source scripts/env.sh dev`
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
extras="${1:-}"
venv="${INSPECTOR_VENV:-$HOME/.cache/inspector-app/venv}"
python="${PYTHON:-$(command -v python3.11 || command -v python3)}"

if [ ! -x "$venv/bin/python" ]; then
    echo "[env] creating virtual environment in $venv (first run only)"
    mkdir -p "$(dirname "$venv")"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --upgrade pip setuptools wheel
fi
stamp="$venv/.inspector-app-deps-${extras:-base}"
want="$(sha256sum "$repo/pyproject.toml" | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
    echo "[env] installing dependencies${extras:+ ($extras)} — TensorFlow takes a few minutes the first time"
    spec="$repo"
    [ -n "$extras" ] && spec="$repo[$extras]"
    "$venv/bin/python" -m pip install -q "$spec"
    echo "$want" > "$stamp"
fi
# Always point the venv at *this* checkout (a clean clone in CI may sit elsewhere than the last one).
"$venv/bin/python" -m pip install -q --no-deps --no-build-isolation -e "$repo"
export PATH="$venv/bin:$PATH"
export INSPECTOR_VENV="$venv"
