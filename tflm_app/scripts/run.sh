#!/usr/bin/env bash
# Runs a Cortex-M build of embbert_app on an emulator: lines of text on stdin, labels on stdout
# (semihosting). QEMU by default; an Arm Corstone-300 FVP when you have one.
#
#   scripts/run.sh --board mps3-an547 build/m55/embbert_app.elf < sentences.txt     # Cortex-M55
#   scripts/run.sh --board mps2-an386 build/m4/embbert_app.elf < sentences.txt      # Cortex-M4
#   scripts/run.sh --fvp /opt/FVP/FVP_Corstone_SSE-300_Ethos-U55 build/m55/embbert_app.elf < sentences.txt
#   scripts/run.sh --board mps3-an547 build/m55/embbert_app.elf --raw     # arguments after the .elf go to the app
#   scripts/run.sh --board mps3-an547 --plugin "build/libinsncount.so,begin=0x..,end=0x.." build/m55/embbert_app.elf
#       (counts instructions executed inside Invoke; see plugins/insn_count.c)
set -euo pipefail
board=mps3-an547
fvp=""
plugin=""
timeout_s=${EMBBERT_RUN_TIMEOUT:-600}
while [ $# -gt 0 ]; do
  case "$1" in
    --board) board="$2"; shift 2 ;;
    --fvp) fvp="$2"; shift 2 ;;
    --plugin) plugin="$2"; shift 2 ;;
    -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
elf="${1:?usage: run.sh [--board B | --fvp PATH] [--plugin LIB,ARGS] APP.elf [app arguments]}"
shift
app_args=""
for a in embbert_app "$@"; do app_args+=",arg=$a"; done
[ -f "$elf" ] || { echo "run.sh: no such file: $elf" >&2; exit 2; }

if [ -n "$fvp" ]; then
  # Corstone-300 (Cortex-M55): the mps3-an547 memory map, semihosting on, no telnet windows.
  exec timeout "$timeout_s" "$fvp" -a "$elf" -C cpu0.semihosting-cmd_line="embbert_app $*" \
    -C mps3_board.visualisation.disable-visualisation=1 -C mps3_board.telnetterminal0.start_telnet=0 \
    -C mps3_board.uart0.out_file=- -C cpu0.semihosting-enable=1 -C cpu0.semihosting-stack_base=0 \
    --stat
fi
command -v qemu-system-arm >/dev/null || { echo "run.sh: qemu-system-arm not found (apt install qemu-system-arm)" >&2; exit 2; }
args=(-M "$board" -nographic -monitor none -serial none -semihosting-config "enable=on,target=native$app_args"
      -kernel "$elf")
[ -n "$plugin" ] && args+=(-plugin "$plugin" -d plugin)
exec timeout "$timeout_s" qemu-system-arm "${args[@]}"
