/* A minimal Cortex-M "firmware" image: no OS, no libc, no interpreter. Built
 * with the armhf cross compiler for -mcpu=cortex-m3 so the ELF probe's
 * bare-metal detection (Tag_CPU_arch_profile 'M') is tested on a real file. */
void _start(void) {
  for (;;) {
  }
}
