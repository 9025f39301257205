#!/usr/bin/env bash
# Refreshes the dependency lock from pyproject.toml's ranges to the newest versions the registry has.
# A refresh is a deliberate change: commit it only with the full test suite (`bash scripts/test.sh`) green on it.
# Extra arguments go to `uv pip compile`, e.g. `--upgrade-package numpy` to move one package alone
# (then pass `--no-upgrade` first to keep the others: `bash scripts/lock.sh --no-upgrade --upgrade-package numpy`).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$repo/scripts/env.sh"
cd "$repo"
req=packaging/requirements
# Linux x86-64, Python 3.11; manylinux_2_28 (glibc 2.28+) so the lock also installs on older distributions.
target=(--custom-compile-command "bash scripts/lock.sh" --python-version 3.11 --python-platform x86_64-manylinux_2_28 --generate-hashes --quiet)
upgrade=(--upgrade)
[ "${1:-}" = "--no-upgrade" ] && { upgrade=(); shift; }
uv pip compile pyproject.toml "$req/tools.in" --extra dev "${target[@]}" "${upgrade[@]}" "$@" -o "$req/lock.txt"
# The installer alone, at the lock's version, for the first step of a new environment.
uv pip compile "$req/tools.in" -c "$req/lock.txt" "${target[@]}" -o "$req/bootstrap.txt"
echo "lock refreshed: now run 'bash scripts/test.sh' and commit $req/ with the suite green"
