#!/usr/bin/env bash
# The whole test suite: Rust formatting, lints and tests, then the official Python SDKs against the
# built binaries. Run from any directory. Needs network only for crates.io and PyPI, and only when
# something is not cached yet.
#
#   scripts/test.sh                 everything (what .ci/run does)
#   scripts/test.sh --python-only   skip cargo; use binaries already in target/debug
#                                   (or $SLUICE_BIN / $SLUICE_MOCK_BIN)
# Extra arguments after the options are passed to pytest.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"

run_cargo=1
if [[ "${1:-}" == "--python-only" ]]; then
    run_cargo=0
    shift
fi

section() {
    printf '\n==================== %s ====================\n' "$*"
}

if [[ "$run_cargo" == 1 ]]; then
    section "cargo fmt --all -- --check"
    cargo fmt --all -- --check

    section "cargo clippy --all-targets -- -D warnings"
    cargo clippy --all-targets -- -D warnings

    section "cargo test --all-targets"
    # Also builds target/debug/sluice and target/debug/sluice-mock for the Python tests.
    cargo test --all-targets
fi

section "python virtualenv (.venv)"
VENV="$ROOT/.venv"
REQS="$ROOT/tests/python/requirements.txt"
STAMP="$VENV/.requirements.sha256"
if [[ ! -x "$VENV/bin/python" ]]; then
    echo "creating $VENV"
    python3 -m venv "$VENV"
fi
want_hash="$(sha256sum "$REQS" | cut -d' ' -f1)"
have_hash="$(cat "$STAMP" 2>/dev/null || true)"
if [[ "$want_hash" != "$have_hash" ]]; then
    echo "installing $REQS"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQS"
    echo "$want_hash" >"$STAMP"
else
    echo "requirements unchanged; skipping pip install"
fi

section "pytest tests/python"
# Loopback only: never let a proxy setting reroute requests to the local servers.
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}"
export no_proxy="$NO_PROXY"
"$VENV/bin/python" -m pytest -q tests/python "$@"
