#!/usr/bin/env sh
# Checks a host build of embbert_app: it classifies, runs at the arena measured at export, finds its own
# smallest arena and runs there exactly, gives a clear error 16 bytes below it, reports invalid UTF-8,
# and says when a text was truncated. Used by ctest (CMakeLists.txt) and by Bazel (BUILD).
#   scripts/app_test.sh path/to/embbert_app [path/to/generated/model_settings.h]
set -u
app="$1"
settings="${2:-$(dirname "$0")/../generated/model_settings.h}"
measured=$(sed -n 's/.*kMeasuredArenaSize = \([0-9]*\);.*/\1/p' "$settings")
failed=0
check() {  # name, command, pattern its output must match
  out=$(sh -c "$2" 2>&1)
  if printf '%s\n' "$out" | grep -Eq "$3"; then
    echo "PASS $1"
  else
    echo "FAIL $1: $out" | head -5
    failed=1
  fi
}
check classifies "printf 'a lovely , moving film\n\nx\n' | '$app'" '^[^[:space:]]+	-?[0-9]+\.[0-9]+ '
check runs_at_measured_arena "echo ok | '$app' --arena $measured" '^[^[:space:]]+	-?[0-9]'
minimal=$("$app" --find-arena 2>/dev/null)
check runs_at_its_minimal_arena "echo ok | '$app' --arena $minimal" '^[^[:space:]]+	-?[0-9]'
check smaller_arena_is_a_clear_error "echo ok | '$app' --arena $((minimal - 16))" '^error: tensor arena too small'
check invalid_utf8_is_reported "printf 'bad \377 text\n' | '$app'" '^error: text is not valid UTF-8'
check long_text_is_truncated_and_said_so "yes word | head -300 | tr '\n' ' ' | '$app'" 'truncated to [0-9]+ tokens'
exit $failed
