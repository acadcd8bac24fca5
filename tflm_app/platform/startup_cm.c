/* Minimal Cortex-M startup for QEMU (mps3-an547 / mps2-an386) with newlib +
 * librdimon semihosting. Linked with -nostartfiles --specs=rdimon.specs.
 * Sections are placed by the ELF loader of QEMU (-kernel prog.elf), so .data
 * needs no copy from flash (LMA == VMA). */
#include <stdint.h>
#include <stdlib.h>

extern uint32_t __bss_start__, __bss_end__, __StackTop;
extern int main(int argc, char** argv);
extern void __libc_init_array(void);
extern void initialise_monitor_handles(void);

/* -nostartfiles drops crti.o/crtn.o which provide _init/_fini used by
 * __libc_init_array/__libc_fini_array. */
void _init(void) {}
void _fini(void) {}
/* ... and crtbegin.o's __dso_handle, which C++ function-local statics with destructors refer to. */
void* __dso_handle = 0;

static void semihost_write0(const char* s) {
  register uint32_t r0 __asm__("r0") = 0x04; /* SYS_WRITE0 */
  register const char* r1 __asm__("r1") = s;
  __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
}

/* The command line the emulator passes through semihosting (SYS_GET_CMDLINE), split into argv. */
static int semihost_args(char** argv, int max_args) {
  static char line[256];
  struct {
    char* buf;
    uint32_t len;
  } block = {line, sizeof(line) - 1};
  register uint32_t r0 __asm__("r0") = 0x15; /* SYS_GET_CMDLINE */
  register void* r1 __asm__("r1") = &block;
  __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  if (r0 != 0) return 0;
  line[block.len] = 0;
  int argc = 0;
  for (char* p = line; *p && argc < max_args;) {
    while (*p == ' ') *p++ = 0;
    if (*p) argv[argc++] = p;
    while (*p && *p != ' ') ++p;
  }
  return argc;
}

void Reset_Handler(void) {
  /* Enable CP10/CP11 (FPU, and MVE on Cortex-M55): CPACR = 0xE000ED88. */
  *(volatile uint32_t*)0xE000ED88 |= (0xFu << 20);
  __asm__ volatile("dsb\n isb" ::: "memory");
  for (uint32_t* p = &__bss_start__; p < &__bss_end__;) *p++ = 0;
  initialise_monitor_handles();
  __libc_init_array();
  static char* argv[16];
  const int argc = semihost_args(argv, 15);
  exit(main(argc, argv));
}

void Fault_Handler(void) {
  semihost_write0("*** FAULT (HardFault/MemManage/BusFault/UsageFault)\n");
  _Exit(3);
}
void Default_Handler(void) {
  semihost_write0("*** unexpected exception\n");
  _Exit(4);
}

typedef void (*vector_t)(void);
__attribute__((section(".vectors"), used)) const vector_t __vector_table[16] = {
    (vector_t)&__StackTop, /* initial MSP */
    Reset_Handler,   Default_Handler, /* NMI */
    Fault_Handler,   /* HardFault */
    Fault_Handler,   /* MemManage */
    Fault_Handler,   /* BusFault */
    Fault_Handler,   /* UsageFault */
    Fault_Handler,   /* SecureFault (v8-M) */
    0, 0, 0,
    Default_Handler, /* SVC */
    Default_Handler, /* DebugMon */
    0,
    Default_Handler, /* PendSV */
    Default_Handler, /* SysTick */
};
