#!/usr/bin/env bash
# Runs every minik test. On a fresh Debian machine (as root) it first sets
# up what the tests need: docker.io and busybox-static (apt-get), a running
# dockerd, and the offline images (images/build.sh). Then one build of the
# workspace is shared by all tests.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ci-setup.sh

echo "==> cargo build (workspace binaries and tests)"
cargo build --workspace --bins --tests

echo "==> cargo test"
cargo test --workspace -- --test-threads="${MINIK_TEST_THREADS:-4}"

# The API suites again, every test cluster on etcd (the test process starts
# Debian's etcd on loopback; see tests/tests/support/mod.rs).
echo "==> cargo test: the API suites on the etcd store"
api_suites=$(cd tests/tests && ls api_*.rs | sed 's/\.rs$/::/')
# shellcheck disable=SC2086
MINIK_TEST_STORE=etcd cargo test -p minik-tests --test suite -- --test-threads="${MINIK_TEST_THREADS:-4}" $api_suites
