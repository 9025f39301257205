#!/usr/bin/env bash
# Builds the one-folder desktop bundle in dist/inspector-app/ (run from anywhere; takes minutes).
#
# PyInstaller lives in its own venv (BUNDLE_VENV), installed from the hashed packaging/requirements/bundle.txt;
# the app and its locked dependencies come from APP_VENV (see README: install), which that venv sees through
# a .pth file, so the app's lock stays free of build tools.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
app_venv=${APP_VENV:-$HOME/.cache/inspector-app/venv}
bundle_venv=${BUNDLE_VENV:-$HOME/.cache/inspector-app/bundle-venv}
app_site=$("$app_venv/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
if [ ! -x "$bundle_venv/bin/pyinstaller" ]; then
  "$app_venv/bin/python" -c "import sys; print(sys.base_prefix)" >/dev/null
  base_python=$("$app_venv/bin/python" -c "import sys, os; print(os.path.join(sys.base_prefix, 'bin', 'python3'))")
  "$base_python" -m venv "$bundle_venv"
  bundle_site=$("$bundle_venv/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
  echo "$app_site" > "$bundle_site/app-venv.pth"
  "$bundle_venv/bin/pip" install --no-deps --require-hashes -r "$root/packaging/requirements/bundle.txt"
fi
cd "$root"
started=$(date +%s)
# PYTHONPATH: this checkout's package wins over an editable install pointing elsewhere.
PYTHONPATH="$root" "$bundle_venv/bin/pyinstaller" --noconfirm --clean --log-level WARN \
  --distpath "$root/dist" --workpath "$root/build/pyinstaller" "$root/packaging/inspector-app.spec"
echo "built dist/inspector-app in $(( $(date +%s) - started )) s; size: $(du -sh dist/inspector-app | cut -f1)"
