#!/bin/sh
# Installs ConvScope's desktop entry and icon for the current user (Linux, freedesktop).
#   sh install-desktop.sh [COMMAND]     COMMAND: what the entry runs (default: the bundle's
#                                       convscope next to this folder, else `convscope`)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cmd=${1:-}
if [ -z "$cmd" ]; then
  for c in "$here/../convscope" "$here/../../convscope"; do
    [ -x "$c" ] && cmd=$(cd "$(dirname "$c")" && pwd)/convscope && break
  done
fi
cmd=${cmd:-convscope}
apps=${XDG_DATA_HOME:-$HOME/.local/share}/applications
icons=${XDG_DATA_HOME:-$HOME/.local/share}/icons/hicolor/scalable/apps
mkdir -p "$apps" "$icons"
sed "s|^Exec=convscope |Exec=$cmd |" "$here/convscope.desktop" > "$apps/convscope.desktop"
cp "$here/convscope.svg" "$icons/convscope.svg"
command -v update-desktop-database >/dev/null && update-desktop-database "$apps" 2>/dev/null || true
echo "installed $apps/convscope.desktop (Exec=$cmd) and $icons/convscope.svg"
