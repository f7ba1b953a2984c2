/* CPU emulation (tests/cuda/emu/l1k_cuda_emu.h) */
#include "l1k_cuda_emu.h"
