/* The program the binary probe's tests read in each format it knows besides
 * Linux ELF: a Windows PE program and DLL (mingw-w64), a WebAssembly module
 * (clang for wasm32-wasi with wasi-libc) and Cortex-M firmware linked with
 * newlib's semihosting (arm-none-eabi-gcc, rdimon.specs). */
#include <stdio.h>

#ifdef PROBE_DLL
__declspec(dllexport) int probe_hello(void) { return 42; }
#else
int main(void) {
  puts("hello");
  return 0;
}
#endif
