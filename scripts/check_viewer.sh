#!/usr/bin/env bash
# Renders periodize's reports in headless Chromium and saves what it shows, offline: a manual
# check (CI installs no browser).
#
#   scripts/check_viewer.sh REPORT_DATA_JSON SCREENSHOT_PNG
#       The seed's Phase 4 viewer (training_plan_viewer.html) showing REPORT_DATA_JSON, and
#       beside SCREENSHOT_PNG a `-workout.png` with the first workout's details open. The
#       viewer's load on start never works (its DOMContentLoaded handler takes the event for a
#       file and fails in FileReader), so the page is loaded as a rider does it: a short script
#       after the viewer's unchanged bytes fetches report_data.json and hands it to the
#       viewer's own "Load File" input. Both are served from a temporary folder on 127.0.0.1
#       (a free port) by Python's http.server for the time of the screenshots.
#   scripts/check_viewer.sh --report REPORT_HTML OUT_DIR
#       Our HTML report as a desktop (1280 px wide) and a phone (390 px) show it, and printed:
#       OUT_DIR/report-desktop.png, OUT_DIR/report-phone.png, OUT_DIR/report-print.pdf.
#
# The viewer is the seed's copy, VIEWER (default ../shared/seed/data/training_plan_viewer.html
# beside the repository). Chromium: `apt-get install -y chromium`, or CHROMIUM=/path/to/it.
# HEIGHT sets the screenshots' height in pixels (default 2400).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
viewer="${VIEWER:-$repo/../shared/seed/data/training_plan_viewer.html}"
chromium="${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}"
height="${HEIGHT:-2400}"

usage() {
    sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

[[ -n "$chromium" ]] || { echo "check_viewer: no chromium found (apt-get install -y chromium)" >&2; exit 2; }

work="$(mktemp -d)"
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# Headless Chromium with everything that would reach the network turned off; a fresh profile.
# The virtual time budget lets the page's script fetch and draw before the capture.
browse() {
    local profile
    profile="$(mktemp -d "$work/profile.XXXXXX")"
    "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --disable-extensions --hide-scrollbars --virtual-time-budget=10000 \
        --user-data-dir="$profile" "$@" >"$work/chromium.log" 2>&1 \
        || { cat "$work/chromium.log" >&2; return 1; }
}

if [[ "${1:-}" == "--report" ]]; then
    [[ $# -eq 3 ]] || usage
    report="$(realpath "$2")"
    out="$3"
    mkdir -p "$out"
    out="$(realpath "$out")"
    browse --window-size=1280,"$height" --screenshot="$out/report-desktop.png" "file://$report"
    browse --window-size=390,"$height" --screenshot="$out/report-phone.png" "file://$report"
    browse --no-pdf-header-footer --print-to-pdf="$out/report-print.pdf" "file://$report"
    echo "$out/report-desktop.png"
    echo "$out/report-phone.png"
    echo "$out/report-print.pdf"
    exit 0
fi

[[ $# -eq 2 ]] || usage
[[ -f "$viewer" ]] || { echo "check_viewer: no viewer at $viewer (set VIEWER)" >&2; exit 2; }
screenshot="$(realpath -m "$2")"
cp "$1" "$work/report_data.json"
# The viewer's bytes as they are, then the rider's steps: pick report_data.json in the file
# input; with `?workout`, click the first workout of the calendar once it is drawn.
cp "$viewer" "$work/index.html"
cat >>"$work/index.html" <<'SCRIPT'
<script>
window.addEventListener('load', async () => {
    const response = await fetch('report_data.json');
    const file = new File([await response.blob()], 'report_data.json', {type: 'application/json'});
    const transfer = new DataTransfer();
    transfer.items.add(file);
    const input = document.getElementById('fileInput');
    input.files = transfer.files;
    input.dispatchEvent(new Event('change'));
    if (location.search.includes('workout')) {
        setTimeout(() => document.querySelector('.day-cell:not(.rest)').click(), 1000);
    }
});
</script>
SCRIPT

# A free port on the loopback interface, then the server on it, in the temporary folder.
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$work" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 50); do
    python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/')" 2>/dev/null && break
    sleep 0.1
done

browse --window-size=1280,"$height" --screenshot="$screenshot" "http://127.0.0.1:$port/index.html"
browse --window-size=1280,1100 --screenshot="${screenshot%.png}-workout.png" "http://127.0.0.1:$port/index.html?workout"
# A 200 for report_data.json in the server's log says the page got the file.
grep -q '"GET /report_data.json HTTP/1.[01]" 200' "$work/server.log" \
    || { echo "check_viewer: the viewer did not load report_data.json" >&2; cat "$work/server.log" >&2; exit 1; }
echo "$screenshot"
echo "${screenshot%.png}-workout.png"
