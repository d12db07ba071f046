#!/usr/bin/env bash
# Runs each fuzz target with cargo fuzz (libFuzzer) for a bounded time, seeded with the seed
# article, the SQuAD articles and the questions, and keeps what it finds: a crashing input is
# copied to fuzz/regressions/TARGET/, which the test suite replays on every run
# (tests/suite/fuzzing.rs, through the same checks, fuzz/checks.rs).
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]     (default 30 s; ingest chunk query tokenizer)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). The machine has the stable toolchain only:
# RUSTC_BOOTSTRAP=1 lets it take libFuzzer's instrumentation flags, and the sanitizer is off
# (`-s none`: safe Rust; a panic is the crash). The first build takes several minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then targets=(ingest chunk query tokenizer); fi

export RUSTC_BOOTSTRAP=1
squad=../shared/bench/squad

# Seed corpora (fuzz/corpus/, ignored by git): what the fuzzers start from and grow.
seed_dir() { mkdir -p "fuzz/corpus/$1"; echo "fuzz/corpus/$1"; }
for f in seeds/* "$squad"/articles/*; do
    [ -f "$f" ] || continue
    name="$(basename "$f")"
    case "$f" in
        *.md | *.markdown) kind='\x01' ;;
        *.html | *.htm) kind='\x02' ;;
        *) kind='\x00' ;;
    esac
    { printf "$kind"; cat "$f"; } > "$(seed_dir ingest)/$name"
    { printf '\x3c\x64\x78\x01'; cat "$f"; } > "$(seed_dir chunk)/$name"
done
questions() {
    cat tests/seed_questions.jsonl tests/own_words_questions.jsonl "$squad/questions.jsonl" 2>/dev/null |
        python3 -c 'import json,sys
for line in sys.stdin:
    try: print(json.loads(line)["question"])
    except Exception: pass'
}
i=0
questions | head -n 400 | while IFS= read -r q; do
    i=$((i + 1))
    printf '%s' "$q" > "$(seed_dir query)/q$i"
    printf '%s' "$q" > "$(seed_dir tokenizer)/q$i"
done

# The tokenizer target reads SmolLM2's GGUF (fetched by the project's own command if missing).
model="$(ls models/SmolLM2-135M-Instruct.Q4_1.gguf 2>/dev/null || true)"
if [ -z "$model" ]; then
    cargo run --release -- fetch-model --model smollm2
    model=models/SmolLM2-135M-Instruct.Q4_1.gguf
fi
export AMA_FUZZ_GGUF="$PWD/$model"

status=0
for t in "${targets[@]}"; do
    echo "== $t: $seconds s"
    mkdir -p "fuzz/regressions/$t"
    rm -rf "fuzz/artifacts/$t"
    if ! cargo fuzz run -s none "$t" "fuzz/corpus/$t" -- \
        -max_total_time="$seconds" -max_len=65536 -print_final_stats=1; then
        status=1
        for crash in fuzz/artifacts/"$t"/crash-* fuzz/artifacts/"$t"/oom-* fuzz/artifacts/"$t"/timeout-*; do
            [ -f "$crash" ] || continue
            cp "$crash" "fuzz/regressions/$t/"
            echo "kept $crash as fuzz/regressions/$t/$(basename "$crash")"
        done
    fi
done
exit $status
