/* long1k — the tensor-core and asynchronous-copy instructions of the flash attention kernels
 * (flash_bf16.cu), each behind one small device function whose body is the inline PTX
 * (sm_80+; the build targets sm_90). The CPU emulation (tests/cuda/emu/l1k_cuda_emu.h, which
 * defines L1K_CUDA_EMU) gives the same functions bodies computed from the PTX ISA's per-lane
 * fragment layouts, so the kernels' indexing, tiling and masking are checked on the CPU.
 *
 *   l1k_mma16816(c[4], a[4], b[2])   c += A B: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
 *                                    (A 16 x 16 bf16 row-major fragment, B 16 x 8 column-major,
 *                                    C 16 x 8 float32; fragment layouts in emu.cc)
 *   l1k_ldmatrix_x4(r[4], row)       ldmatrix.sync.aligned.m8n8.x4.shared.b16: lane l gives the
 *                                    address of row l % 8 of matrix l / 8 (16 bytes, shared)
 *   l1k_ldmatrix_x4_trans(r[4], row) the same with .trans
 *   l1k_cp_async16(dst, src)         16 bytes global -> shared, cp.async.cg (bypasses L1)
 *   l1k_cp_async_commit()            cp.async.commit_group
 *   l1k_cp_async_wait<N>()           cp.async.wait_group N (all but the N newest groups done)
 *   l1k_st_zero16(dst)               16 zero bytes (rows past the end of a tile)
 *   L1K_DYN_SMEM(name)               the block's dynamic shared memory as unsigned char *name
 *   L1K_UNROLL                       #pragma unroll (fragment arrays must live in registers)
 *   L1K_LOOP                         #pragma unroll 1 (a loop kept rolled: fewer live registers) */
#ifndef LONG1K_BACKEND_CUDA_MMA_H
#define LONG1K_BACKEND_CUDA_MMA_H

#include <stdint.h>

#ifdef L1K_CUDA_EMU
#define L1K_UNROLL
#define L1K_LOOP
#else
#define L1K_UNROLL _Pragma("unroll")
#define L1K_LOOP _Pragma("unroll 1")
#define L1K_DYN_SMEM(name) extern __shared__ __align__(16) unsigned char name[]

__device__ __forceinline__ void l1k_mma16816(float *c, const uint32_t *a, const uint32_t *b) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

__device__ __forceinline__ unsigned l1k_smem_addr(const void *p) {
  return (unsigned)__cvta_generic_to_shared(p);
}

__device__ __forceinline__ void l1k_ldmatrix_x4(uint32_t *r, const void *row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(l1k_smem_addr(row))
               : "memory");
}

__device__ __forceinline__ void l1k_ldmatrix_x4_trans(uint32_t *r, const void *row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(l1k_smem_addr(row))
               : "memory");
}

__device__ __forceinline__ void l1k_cp_async16(void *dst, const void *src) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(l1k_smem_addr(dst)), "l"(src)
               : "memory");
}

__device__ __forceinline__ void l1k_cp_async_commit(void) {
  asm volatile("cp.async.commit_group;\n" ::: "memory");
}

template <int N> __device__ __forceinline__ void l1k_cp_async_wait(void) {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

__device__ __forceinline__ void l1k_st_zero16(void *dst) {
  *(uint4 *)dst = make_uint4(0u, 0u, 0u, 0u);
}
#endif

#endif
