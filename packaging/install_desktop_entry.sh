#!/usr/bin/env bash
# Adds Inspector to the desktop menu of the current user (Linux, freedesktop.org): the .desktop entry from
# the package's resources with the bundle's folder filled in, and the icon.
#   bash packaging/install_desktop_entry.sh dist/inspector-app
set -euo pipefail
bundle=$(cd "${1:?usage: install_desktop_entry.sh BUNDLE_FOLDER}" && pwd)
[ -x "$bundle/inspector-app" ] || { echo "no inspector-app program in $bundle" >&2; exit 1; }
resources=$(find "$bundle" -path "*inspector_app/resources" -type d | head -1)
data=${XDG_DATA_HOME:-$HOME/.local/share}
mkdir -p "$data/applications" "$data/icons/hicolor/256x256/apps"
sed "s|@BUNDLE@|$bundle|g" "$resources/inspector-app.desktop" > "$data/applications/inspector-app.desktop"
cp "$resources/inspector-app.png" "$data/icons/hicolor/256x256/apps/inspector-app.png"
command -v desktop-file-validate >/dev/null && desktop-file-validate "$data/applications/inspector-app.desktop" || true
echo "installed $data/applications/inspector-app.desktop"
