#!/usr/bin/env bash
# Starts a local minik cluster on this machine: sets up what it needs on a
# fresh Debian machine (docker.io, busybox-static, a running dockerd, the
# offline images — see scripts/ci-setup.sh), builds the release binaries,
# then runs `miniktl cluster up` with any arguments given (e.g. --nodes 3).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ci-setup.sh
# Only what `cluster up` runs: miniktl, and minik, which every component
# runs from. Release builds are linked whole (LTO; see Cargo.toml), so each
# further executable would add minutes.
cargo build --release --bin minik --bin miniktl
exec target/release/miniktl cluster up "$@"
