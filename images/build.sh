#!/bin/sh
# Builds minik's offline images from the host's static busybox (no registry needed):
#   minik/pause:3.10                            pod infra container
#   minik/busybox:1.35, busybox:1.35, busybox:latest
#   minik/web:v1, minik/web:v2                  httpd demo server on :80
# Idempotent: an image whose tags all carry the same content-hash label is skipped;
# --force rebuilds anyway. Needs busybox-static and a running docker daemon.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
FORCE=0
case "${1:-}" in
  --force) FORCE=1 ;;
  "") ;;
  *) echo "usage: $0 [--force]" >&2; exit 2 ;;
esac

die() { echo "images/build.sh: $*" >&2; exit 1; }

BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] && "$BUSYBOX" --list 2>/dev/null | grep -qx httpd \
  || die "static busybox not found at $BUSYBOX (apt-get install busybox-static)"
if command -v file >/dev/null 2>&1; then
  file -L "$BUSYBOX" | grep -q 'statically linked' \
    || die "$BUSYBOX is not statically linked (apt-get install busybox-static)"
fi
command -v docker >/dev/null 2>&1 || die "docker not found (apt-get install docker.io)"
docker info >/dev/null 2>&1 || die "docker daemon not answering (is dockerd running? see scripts/ci-setup.sh)"

# The classic builder needs nothing from the network for FROM scratch; BuildKit might.
export DOCKER_BUILDKIT=0

# Remove the copied binaries however we exit.
trap 'rm -f "$HERE"/*/busybox.static' EXIT

# build DIR "BUILD-ARGS" TAG... — build DIR unless every TAG already has our hash.
build() {
  dir=$1 args=$2; shift 2
  cp "$BUSYBOX" "$HERE/$dir/busybox.static"
  # Hash the whole context (Dockerfile, scripts, the busybox binary) plus the build args.
  hash=$( (cd "$HERE/$dir" && find . -type f | LC_ALL=C sort | xargs sha256sum; echo "$args") \
          | sha256sum | cut -c1-16)
  if [ "$FORCE" = 0 ]; then
    fresh=1
    for tag in "$@"; do
      have=$(docker image inspect -f '{{index .Config.Labels "minik.hash"}}' "$tag" 2>/dev/null || true)
      [ "$have" = "$hash" ] || fresh=0
    done
    if [ "$fresh" = 1 ]; then echo "images: $* up to date"; return 0; fi
  fi
  echo "images: building $*"
  tags=""
  for tag in "$@"; do tags="$tags -t $tag"; done
  # shellcheck disable=SC2086  # word splitting of $args and $tags is intended
  # (Output is shown only on failure: it is mostly the legacy builder's deprecation notice.)
  if ! out=$(docker build -q --label "minik.hash=$hash" $args $tags "$HERE/$dir" 2>&1); then
    echo "$out" >&2; die "docker build of $dir failed"
  fi
}

build pause   ""                       minik/pause:3.10
build busybox ""                       minik/busybox:1.35 busybox:1.35 busybox:latest
build web     "--build-arg VERSION=v1" minik/web:v1
build web     "--build-arg VERSION=v2" minik/web:v2
echo "images: done"
