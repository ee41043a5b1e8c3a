#include "xrun_main.h"

int main(int argc, char** argv) { return xrun::xrun_main(argc, argv); }
