#!/bin/sh
# Prepares a fresh Debian machine (as root) to build and test minik offline:
#   1. installs docker.io and busybox-static if missing (and iptables, which
#      docker.io depends on anyway and minik-proxy's DNAT rules use, and
#      openssl, with which the CSR test makes a user's key and request, and
#      python3-kubernetes, the Python client the security tests drive,
#      etcd-server, the store the API suites also run on,
#      protobuf-compiler, which the etcd client's build needs, and
#      chromium with chromium-driver, the headless browser the dashboard's
#      test and benchmark drive through WebDriver),
#   2. starts dockerd in the background if no daemon answers (it outlives this script;
#      log: /tmp/minik-dockerd.log),
#   3. builds the offline images (images/build.sh).
# Idempotent: safe to run again; does nothing that is already done.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOG=/tmp/minik-dockerd.log
say() { echo "ci-setup: $*"; }
die() { echo "ci-setup: ERROR: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root"

# 1. Packages.
need=""
command -v docker  >/dev/null 2>&1 || need="$need docker.io"
command -v dockerd >/dev/null 2>&1 || need="$need docker.io"
dpkg -s busybox-static >/dev/null 2>&1 || need="$need busybox-static"
command -v iptables-restore >/dev/null 2>&1 || need="$need iptables"
command -v openssl >/dev/null 2>&1 || need="$need openssl"
# The Python Kubernetes client, for the client-compatibility tests (Debian's
# interpreter: /usr/bin/python3).
/usr/bin/python3 -c 'import kubernetes' >/dev/null 2>&1 || need="$need python3-kubernetes"
command -v etcd >/dev/null 2>&1 || need="$need etcd-server"
command -v protoc >/dev/null 2>&1 || need="$need protobuf-compiler"
# The dashboard's browser test (tests/tests/dashboard_browser.rs).
command -v chromium >/dev/null 2>&1 || need="$need chromium"
command -v chromedriver >/dev/null 2>&1 || need="$need chromium-driver"
PACKAGES="docker.io busybox-static iptables openssl python3-kubernetes etcd-server protobuf-compiler chromium chromium-driver"
if [ -n "$need" ]; then
  say "installing $PACKAGES"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null || die "apt-get update failed"
  apt-get install -y -q $PACKAGES >/dev/null || die "apt-get install failed"
else
  say "$PACKAGES already installed"
fi

# 2. Docker daemon.
if docker info >/dev/null 2>&1; then
  say "docker daemon already running"
else
  # A pid file left by a killed dockerd makes the next one refuse to start.
  pidfile=/var/run/docker.pid
  if [ -f "$pidfile" ] && ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    rm -f "$pidfile"
  fi
  say "starting dockerd (log: $LOG)"
  # setsid + nohup: the daemon gets its own session and outlives this script and its shell.
  setsid nohup dockerd >"$LOG" 2>&1 </dev/null &
  i=0
  until docker info >/dev/null 2>&1; do
    i=$((i + 1))
    if [ "$i" -ge 60 ]; then
      echo "---- last lines of $LOG ----" >&2; tail -n 30 "$LOG" >&2 || true
      die "dockerd did not answer within 60 s"
    fi
    sleep 1
  done
  say "docker daemon up after ${i}s"
fi

# 3. Offline images.
say "building images"
"$ROOT/images/build.sh"
say "done"
