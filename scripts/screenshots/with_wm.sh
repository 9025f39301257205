#!/usr/bin/env bash
# Run a command under the openbox window manager on $DISPLAY (xshot starts a bare X server: no title bars,
# no placement, no maximise), so screenshots show the window as a desktop would. openbox ends with the server.
command -v openbox >/dev/null || { echo "with_wm.sh: openbox is not installed (apt-get install openbox)" >&2; exit 2; }
openbox >/dev/null 2>&1 &
sleep 1
exec "$@"
