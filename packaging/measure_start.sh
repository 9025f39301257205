#!/usr/bin/env bash
# Seconds from starting the bundle (or any command) to its window being shown, on a virtual X screen.
#   bash packaging/measure_start.sh dist/inspector-app [ARGS...]      (default ARGS: demo)
# Starts Xvfb, runs BUNDLE/inspector-app ARGS with a fresh data folder unless INSPECTOR_APP_HOME is set, polls
# the X server for a viewable (mapped) window titled "Inspector …" every 0.1 s, prints the time and ends the program.
set -u
bundle=${1:?usage: measure_start.sh BUNDLE_FOLDER [ARGS...]}; shift
[ $# -gt 0 ] || set -- demo
for n in $(seq 140 180); do [ -e /tmp/.X11-unix/X$n ] || [ -e /tmp/.X$n-lock ] || { disp=":$n"; break; }; done
Xvfb "$disp" -screen 0 1600x1000x24 -nolisten tcp >/dev/null 2>&1 &
xpid=$!
# The program runs in its own process group, so the helpers it starts (the demo's preparation) end with it.
trap 'kill -- -$apid 2>/dev/null; sleep 1; kill -9 -- -$apid 2>/dev/null; kill $xpid 2>/dev/null' EXIT
for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X${disp#:}" ] && break; sleep 0.1; done
export INSPECTOR_APP_HOME=${INSPECTOR_APP_HOME:-$(mktemp -d)}
start=$(date +%s.%N)
DISPLAY=$disp QT_QPA_PLATFORM=xcb setsid "$bundle/inspector-app" "$@" >/dev/null 2>&1 &
apid=$!
for _ in $(seq 1200); do
  id=$(DISPLAY=$disp xwininfo -root -tree 2>/dev/null | grep '"Inspector ' | awk '{print $1}' | head -1)
  if [ -n "$id" ] && DISPLAY=$disp xwininfo -id "$id" 2>/dev/null | grep -q IsViewable; then
    echo "window shown after $(echo "$(date +%s.%N) - $start" | bc) s ($bundle/inspector-app $*)"
    exit 0
  fi
  kill -0 $apid 2>/dev/null || { echo "the program exited before showing a window" >&2; exit 1; }
  sleep 0.1
done
echo "no window after 120 s" >&2; exit 1
