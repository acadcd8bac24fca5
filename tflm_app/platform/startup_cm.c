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

static void semihost_write0(const char* s) {
  register uint32_t r0 __asm__("r0") = 0x04; /* SYS_WRITE0 */
  register const char* r1 __asm__("r1") = s;
  __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
}

void Reset_Handler(void) {
  /* Enable CP10/CP11 (FPU, and MVE on Cortex-M55): CPACR = 0xE000ED88. */
  *(volatile uint32_t*)0xE000ED88 |= (0xFu << 20);
  __asm__ volatile("dsb\n isb" ::: "memory");
  for (uint32_t* p = &__bss_start__; p < &__bss_end__;) *p++ = 0;
  initialise_monitor_handles();
  __libc_init_array();
  exit(main(0, 0));
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
