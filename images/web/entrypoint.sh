#!/bin/sh
# Writes the pages at startup (so the hostname is the pod's), then runs httpd in the
# background; as PID 1 the shell must trap TERM itself to exit promptly.
set -e
echo "minik-web ${VERSION} on $(hostname)" > /www/index.html
echo ok > /www/healthz
httpd -f -vv -p "${PORT:-80}" -h /www &
pid=$!
trap 'kill "$pid" 2>/dev/null; exit 0' TERM INT
echo "minik-web ${VERSION} listening on :${PORT:-80}"
wait "$pid"
