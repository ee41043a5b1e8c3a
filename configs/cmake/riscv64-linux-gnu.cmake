# CMake toolchain file: cross-compile for riscv64 with Debian's riscv64-linux-gnu-gcc, and
# run what the build runs (try_run, gtest_discover_tests, ctest) through xrun.
#
#   cmake -S . -B build-riscv64 -DCMAKE_TOOLCHAIN_FILE=<xrun>/configs/cmake/riscv64-linux-gnu.cmake
#
# xrun is looked up in PATH; pass -DXRUN_EXECUTABLE=/path/to/xrun to choose one.
# An explicit -DCMAKE_CROSSCOMPILING_EMULATOR=... wins.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR riscv64)

set(CMAKE_C_COMPILER riscv64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER riscv64-linux-gnu-g++)

# Libraries and headers come from the cross sysroot only; programs from the host.
set(CMAKE_FIND_ROOT_PATH /usr/riscv64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

if(NOT XRUN_EXECUTABLE)
  find_program(XRUN_EXECUTABLE xrun)
endif()
if(XRUN_EXECUTABLE AND NOT CMAKE_CROSSCOMPILING_EMULATOR)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${XRUN_EXECUTABLE};--target;riscv64")
endif()
