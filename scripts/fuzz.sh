#!/usr/bin/env bash
# Coverage-guided fuzzing of the stream decoders, the translators and the HTTP/1.1 parsers with
# cargo-fuzz (libFuzzer).
#
#   scripts/fuzz.sh [seconds-per-target]     (default 60)
#   scripts/fuzz.sh --minimize               (cargo fuzz cmin on every corpus)
#
# Targets (fuzz/fuzz_targets, code in src/fuzz.rs): sse_decoder, eventstream_decoder,
# stream_decoders, translate, embed, http_request, upstream_response. New inputs that increase
# coverage are added to fuzz/corpus/<target>/; commit the interesting ones: tests/fuzz_corpus.rs
# replays the corpus (and mutations of it) in CI.
# Crashes land in fuzz/artifacts/<target>/.
#
# cargo-fuzz normally wants nightly for sanitizers; with `-s none` it builds on stable, which is
# what this machine has (RUSTC_BOOTSTRAP=1 lets libfuzzer-sys use the flags it needs).
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
targets=(sse_decoder eventstream_decoder stream_decoders translate embed http_request upstream_response)
if [[ $secs == --minimize ]]; then
    # cmin renames what it keeps: the named regression seeds (regress_*) are put back after it.
    for t in "${targets[@]}"; do
        keep=$(mktemp -d)
        cp "fuzz/corpus/$t"/regress_* "$keep"/ 2>/dev/null || true
        RUSTC_BOOTSTRAP=1 cargo fuzz cmin -s none "$t" "fuzz/corpus/$t" -- -max_len=65536
        cp "$keep"/* "fuzz/corpus/$t"/ 2>/dev/null || true
        rm -rf "$keep"
    done
    exit 0
fi
for t in "${targets[@]}"; do
    echo "== $t (${secs}s)"
    RUSTC_BOOTSTRAP=1 cargo fuzz run -s none "$t" "fuzz/corpus/$t" -- -max_total_time="$secs" -max_len=65536
done
