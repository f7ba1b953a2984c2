#!/usr/bin/env python3
"""PyTorch peers of the CUDA benchmarks (bench/gpu_*.c), same shapes and FLOP counts.

  gpu_peers.py attention [T ...]   scaled_dot_product_attention, causal, B=1, H=28, KVH=4
                                   (GQA 7:1 via enable_gqa), head_dim 128, bf16 (the flash
                                   backend) and float32 (the math / efficient backends):
                                   forward and backward TFLOP/s, FlashAttention's count
                                   (causal: half of 4 B H T^2 hd forward, 2.5x backward)
  gpu_peers.py attention_cudnn [T ...]
                                   the same shapes through torch's cuDNN SDPA backend
                                   (sdpa_kernel(CUDNN_ATTENTION), bf16; K and V repeated to
                                   the 28 query heads, as that backend may refuse enable_gqa),
                                   the peer of bench/gpu_attention_cudnn_bench.c
  gpu_peers.py lmhead [T C V]      torch linear + cross_entropy forward + backward (float32
                                   without TF32, and bf16): time and peak memory
  gpu_peers.py matmul [n]          torch.matmul n^3 in bf16 and float32 (no TF32)

One JSON line per measurement on stdout; a peer that cannot run (no torch, no GPU, out of
memory) prints its reason in "status" instead of a number. Needs torch with CUDA (the lent
H200 machine has torch 2.11); not used by the test suite.
"""
import json
import sys
import time


def emit(**kw):
    print(json.dumps(kw), flush=True)


def torch_or_none(bench):
    try:
        import torch
    except Exception as e:  # noqa: BLE001 - any import failure means "no peer"
        emit(bench=bench, impl="torch", status="torch not importable: %s" % e)
        return None
    if not torch.cuda.is_available():
        emit(bench=bench, impl="torch", status="no CUDA device")
        return None
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    return torch


def cuda_ms(torch, fn, reps):
    """Mean milliseconds of fn() over reps runs after one warm-up, CUDA events."""
    fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(reps):
        fn()
    end.record()
    end.synchronize()
    return start.elapsed_time(end) / reps


def attention(args):
    torch = torch_or_none("attention")
    if torch is None:
        return
    import torch.nn.functional as F
    H, KVH, HD = 28, 4, 128
    Ts = [int(a) for a in args] or [4096, 16384, 32768]
    for dtype, name in ((torch.bfloat16, "torch-sdpa-bf16"), (torch.float32, "torch-sdpa-f32")):
        for T in Ts:
            try:
                g = torch.Generator(device="cuda").manual_seed(0)
                q = torch.rand(1, H, T, HD, device="cuda", dtype=dtype, generator=g).requires_grad_()
                k = torch.rand(1, KVH, T, HD, device="cuda", dtype=dtype, generator=g).requires_grad_()
                v = torch.rand(1, KVH, T, HD, device="cuda", dtype=dtype, generator=g).requires_grad_()
                do = torch.rand(1, H, T, HD, device="cuda", dtype=dtype, generator=g)
                reps = 3 if T <= 4096 else 1

                def fw():
                    return F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)

                fw_ms = cuda_ms(torch, fw, reps)
                o = fw()

                def bw():
                    q.grad = k.grad = v.grad = None
                    o.backward(do, retain_graph=True)

                bw_ms = cuda_ms(torch, bw, reps)
                fl = 4.0 * H * T * T * HD / 2
                emit(bench="attention", impl=name, T=T, H=H, KVH=KVH, hd=HD, fw_ms=round(fw_ms, 3),
                     bw_ms=round(bw_ms, 3), fw_tflops=round(fl / fw_ms / 1e9, 2),
                     bw_tflops=round(2.5 * fl / bw_ms / 1e9, 2))
                del q, k, v, do, o
            except Exception as e:  # noqa: BLE001 - report and go on (e.g. out of memory)
                emit(bench="attention", impl=name, T=T, status=str(e).splitlines()[0][:200])
            torch.cuda.empty_cache()


def attention_cudnn(args):
    torch = torch_or_none("attention")
    if torch is None:
        return
    import torch.nn.functional as F
    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel
    except Exception as e:  # noqa: BLE001 - an older torch: report, no number
        emit(bench="attention", impl="torch-sdpa-cudnn-bf16", status="no sdpa_kernel: %s" % e)
        return
    H, KVH, HD = 28, 4, 128
    name = "torch-sdpa-cudnn-bf16"
    for T in [int(a) for a in args] or [4096, 16384, 32768]:
        try:
            g = torch.Generator(device="cuda").manual_seed(0)
            q = torch.rand(1, H, T, HD, device="cuda", dtype=torch.bfloat16, generator=g).requires_grad_()
            k0 = torch.rand(1, KVH, T, HD, device="cuda", dtype=torch.bfloat16, generator=g)
            v0 = torch.rand(1, KVH, T, HD, device="cuda", dtype=torch.bfloat16, generator=g)
            k = k0.repeat_interleave(H // KVH, dim=1).requires_grad_()
            v = v0.repeat_interleave(H // KVH, dim=1).requires_grad_()
            do = torch.rand(1, H, T, HD, device="cuda", dtype=torch.bfloat16, generator=g)
            reps = 10 if T <= 4096 else 3
            with sdpa_kernel([SDPBackend.CUDNN_ATTENTION]):
                def fw():
                    return F.scaled_dot_product_attention(q, k, v, is_causal=True)

                fw_ms = cuda_ms(torch, fw, reps)
                o = fw()

                def bw():
                    q.grad = k.grad = v.grad = None
                    o.backward(do, retain_graph=True)

                bw_ms = cuda_ms(torch, bw, reps)
            fl = 4.0 * H * T * T * HD / 2
            emit(bench="attention", impl=name, T=T, H=H, KVH=KVH, hd=HD, fw_ms=round(fw_ms, 3),
                 bw_ms=round(bw_ms, 3), fw_tflops=round(fl / fw_ms / 1e9, 2),
                 bw_tflops=round(2.5 * fl / bw_ms / 1e9, 2),
                 cudnn=torch.backends.cudnn.version())
            del q, k, v, k0, v0, do, o
        except Exception as e:  # noqa: BLE001 - report and go on
            emit(bench="attention", impl=name, T=T, status=str(e).splitlines()[0][:200])
        torch.cuda.empty_cache()


def lmhead(args):
    torch = torch_or_none("lmhead_ce")
    if torch is None:
        return
    import torch.nn.functional as F
    T, C, V = (int(a) for a in args) if len(args) == 3 else (16384, 1536, 151936)
    for dtype, name in ((torch.float32, "torch-f32"), (torch.bfloat16, "torch-bf16")):
        try:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            g = torch.Generator(device="cuda").manual_seed(0)
            x = (torch.rand(T, C, device="cuda", generator=g) * 2 - 1).to(dtype).requires_grad_()
            W = ((torch.rand(V, C, device="cuda", generator=g) * 2 - 1) * 0.02).to(dtype).requires_grad_()
            tg = (torch.arange(T, device="cuda", dtype=torch.int64) * 2654435761) % V

            def step():
                x.grad = W.grad = None
                loss = F.cross_entropy(F.linear(x, W).float(), tg)
                loss.backward()
                return loss

            ms = cuda_ms(torch, step, 3)
            emit(bench="lmhead_ce", impl=name, T=T, C=C, V=V, fwbw_ms=round(ms, 2),
                 device_bytes=torch.cuda.max_memory_allocated(), mean_loss=float(step()))
            del x, W
        except Exception as e:  # noqa: BLE001
            emit(bench="lmhead_ce", impl=name, T=T, status=str(e).splitlines()[0][:200])


def matmul(args):
    torch = torch_or_none("matmul")
    if torch is None:
        return
    n = int(args[0]) if args else 8192
    for dtype, name in ((torch.bfloat16, "torch-bf16"), (torch.float32, "torch-f32")):
        a = torch.rand(n, n, device="cuda", dtype=dtype)
        b = torch.rand(n, n, device="cuda", dtype=dtype)
        ms = cuda_ms(torch, lambda: a @ b, 10)
        emit(bench="matmul", impl=name, n=n, ms=round(ms, 3), tflops=round(2.0 * n ** 3 / ms / 1e9, 1))


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in ("attention", "attention_cudnn", "lmhead", "matmul"):
        sys.stderr.write(__doc__)
        return 2
    t0 = time.time()
    {"attention": attention, "attention_cudnn": attention_cudnn, "lmhead": lmhead,
     "matmul": matmul}[sys.argv[1]](sys.argv[2:])
    sys.stderr.write("gpu_peers %s: %.1f s\n" % (sys.argv[1], time.time() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
