#!/usr/bin/env sh
# Checks a host build of embbert_app: it classifies, runs at the arena measured at export, finds its own
# smallest arena and runs there exactly, gives a clear error 16 bytes below it, reports invalid UTF-8,
# empty lines and bad flags, says when a text was truncated, and cuts a line too long for its buffer at
# a whole character. Used by ctest (CMakeLists.txt) and by Bazel (BUILD).
#   scripts/app_test.sh path/to/embbert_app [path/to/generated/model_settings.h]
set -u
app="$1"
settings="${2:-$(dirname "$0")/../generated/model_settings.h}"
measured=$(sed -n 's/.*kMeasuredArenaSize = \([0-9]*\);.*/\1/p' "$settings")
compiled=$(sed -n 's/.*kTensorArenaSize = \([0-9]*\);.*/\1/p' "$settings" | tail -1)  # the non-Arduino value (the #else branch, last)
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
check empty_line_is_reported "printf '\n   \n' | '$app'" '^error: text is empty'
# One output line per input line, errors included.
check one_line_out_per_line_in "printf 'good\n\n\377\nbad\n' | '$app' | wc -l | tr -d ' '" '^4$'
for bad in 0 200; do
  check "arena_of_${bad}_bytes_is_a_clear_error" "echo ok | '$app' --arena $bad" '^error: tensor arena too small'
done
check arena_not_a_number_is_a_usage_error "{ echo ok | '$app' --arena abc; echo rc=\$?; } 2>&1 | tr '\\n' ' '" 'error: --arena takes a number.*rc=2'
check arena_above_the_compiled_one_is_refused "{ echo ok | '$app' --arena $((compiled + 16)); echo rc=\$?; } 2>&1 | tr '\\n' ' '" \
  'error: --arena takes a number of bytes from 0 to '"$compiled"'.*rc=2'
check missing_flag_value_is_a_usage_error "{ echo ok | '$app' --time; echo rc=\$?; } 2>&1 | tr '\\n' ' '" 'not nothing.*rc=2'
check unknown_flag_is_a_usage_error "{ echo ok | '$app' --areana 5; echo rc=\$?; } 2>&1 | tr '\\n' ' '" 'error: unknown argument --areana.*rc=2'
# 'a' then 35,000 two-byte characters: the 65,536-byte host buffer ends inside one.
check long_line_is_cut_at_a_whole_character \
  "awk 'BEGIN { printf \"a\"; for (i = 0; i < 35000; i++) printf \"\\303\\251\"; printf \"\\n\" }' | '$app'" \
  '^[^[:space:]]+	-?[0-9].*line cut to its first 65535 bytes'
exit $failed
