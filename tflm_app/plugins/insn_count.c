/* QEMU TCG plugin: counts the guest instructions executed between two marker functions that the app
 * calls around each Invoke (embbert_invoke_begin / embbert_invoke_end). QEMU's Cortex-M boards have no
 * cycle counter; an instruction count is exact and repeats from run to run.
 *
 *   qemu-system-arm ... -plugin ./libinsncount.so,begin=0x1234,end=0x1250 -d plugin
 * prints one line per Invoke:  insn_count invoke=<n> instructions=<count>
 * With op_begin=ADDR,op_end=ADDR too (embbert_op_begin / embbert_op_end, called around every op), it also
 * prints, for the first Invoke, one line per op in execution order:  insn_count op=<k> instructions=<count>
 *
 * Build: cc -O2 -shared -fPIC insn_count.c -o libinsncount.so  [-I<dir with QEMU's qemu-plugin.h>]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__has_include) && __has_include(<qemu-plugin.h>)
#include <qemu-plugin.h>
#else
/* The subset of QEMU's plugin API (version 1, QEMU 7.x) this plugin uses, for systems whose QEMU
 * package ships no qemu-plugin.h (Debian's does not). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#define QEMU_PLUGIN_EXPORT __attribute__((visibility("default")))
#define QEMU_PLUGIN_VERSION 1
typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t qemu_info_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb* tb);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void* userdata);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void* userdata);
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb* tb);
struct qemu_plugin_insn* qemu_plugin_tb_get_insn(const struct qemu_plugin_tb* tb, size_t idx);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn* insn);
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb* tb, qemu_plugin_vcpu_udata_cb_t cb,
                                          enum qemu_plugin_cb_flags flags, void* userdata);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn* insn, qemu_plugin_vcpu_udata_cb_t cb,
                                            enum qemu_plugin_cb_flags flags, void* userdata);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void* userdata);
void qemu_plugin_outs(const char* string);
#endif

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

static uint64_t begin_addr, end_addr, op_begin_addr, op_end_addr; /* Thumb bit cleared */
static int counting;
static uint64_t count, op_start;
static unsigned invokes, ops;

/* Whole translation blocks are counted; the markers start their own blocks (they are call targets). */
static void on_tb(unsigned int vcpu, void* n_insns) {
  (void)vcpu;
  if (counting) count += (uintptr_t)n_insns;
}

static void on_begin(unsigned int vcpu, void* unused) {
  (void)vcpu, (void)unused;
  counting = 1;
  count = 0;
  ops = 0;
}

static void on_op_begin(unsigned int vcpu, void* unused) {
  (void)vcpu, (void)unused;
  op_start = count;
}

static void on_op_end(unsigned int vcpu, void* unused) {
  char line[96];
  (void)vcpu, (void)unused;
  if (!counting || invokes > 0) return;
  snprintf(line, sizeof line, "insn_count op=%u instructions=%" PRIu64 "\n", ops++, count - op_start);
  qemu_plugin_outs(line);
}

static void on_end(unsigned int vcpu, void* unused) {
  char line[96];
  (void)vcpu, (void)unused;
  counting = 0;
  snprintf(line, sizeof line, "insn_count invoke=%u instructions=%" PRIu64 "\n", invokes++, count);
  qemu_plugin_outs(line);
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb* tb) {
  size_t n = qemu_plugin_tb_n_insns(tb);
  (void)id;
  qemu_plugin_register_vcpu_tb_exec_cb(tb, on_tb, QEMU_PLUGIN_CB_NO_REGS, (void*)(uintptr_t)n);
  for (size_t i = 0; i < n; ++i) {
    struct qemu_plugin_insn* insn = qemu_plugin_tb_get_insn(tb, i);
    uint64_t pc = qemu_plugin_insn_vaddr(insn);
    if (pc == begin_addr) qemu_plugin_register_vcpu_insn_exec_cb(insn, on_begin, QEMU_PLUGIN_CB_NO_REGS, NULL);
    if (pc == end_addr) qemu_plugin_register_vcpu_insn_exec_cb(insn, on_end, QEMU_PLUGIN_CB_NO_REGS, NULL);
    if (op_begin_addr && pc == op_begin_addr) {
      qemu_plugin_register_vcpu_insn_exec_cb(insn, on_op_begin, QEMU_PLUGIN_CB_NO_REGS, NULL);
    }
    if (op_end_addr && pc == op_end_addr) {
      qemu_plugin_register_vcpu_insn_exec_cb(insn, on_op_end, QEMU_PLUGIN_CB_NO_REGS, NULL);
    }
  }
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t* info, int argc, char** argv) {
  (void)info;
  for (int i = 0; i < argc; ++i) {
    if (strncmp(argv[i], "begin=", 6) == 0) begin_addr = strtoull(argv[i] + 6, NULL, 0) & ~1ull;
    if (strncmp(argv[i], "end=", 4) == 0) end_addr = strtoull(argv[i] + 4, NULL, 0) & ~1ull;
    if (strncmp(argv[i], "op_begin=", 9) == 0) op_begin_addr = strtoull(argv[i] + 9, NULL, 0) & ~1ull;
    if (strncmp(argv[i], "op_end=", 7) == 0) op_end_addr = strtoull(argv[i] + 7, NULL, 0) & ~1ull;
  }
  if (begin_addr == 0 || end_addr == 0) {
    fprintf(stderr, "insn_count: pass begin=ADDR,end=ADDR (the marker functions' addresses)\n");
    return -1;
  }
  qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
  return 0;
}
