#!/usr/bin/env python3
"""One training step (forward + backward) of a Qwen2.5-architecture ~50M-parameter model with
the real 151,936-token vocabulary at sequence 1024: long1k (C, OpenBLAS, OpenMP) against
transformers + PyTorch on the CPU, same shape, same thread count, same token ids.

  python3 bench/model_train_step.py [--build build] [--threads 2] [--steps 3] [--seq 1024]
                                    [--peer-python PYTHON]   (a python with torch + transformers)

Prints a table: seconds per step, tokens/s, peak RSS (/usr/bin/time -v), loss and gradient norm
(the two implementations must agree on these).
"""
import argparse, json, os, re, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

PEER = r'''
import json, sys, time, torch
from transformers import AutoModelForCausalLM
d, T, steps, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(threads)
m = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation=sys.argv[5])
m.train()
V = m.config.vocab_size
seed = 1; ids = []
for i in range(T):
    seed = (seed * 1664525 + 1013904223) & 0xffffffff
    ids.append((seed >> 8) % V)
x = torch.tensor([ids]); y = x.clone(); y[0, :16] = -100
def step():
    m.zero_grad(set_to_none=False)
    out = m(input_ids=x, labels=y)
    out.loss.backward()
    return out.loss.item()
loss = step()
t0 = time.perf_counter(); c0 = time.process_time()
for _ in range(steps): loss = step()
dt = (time.perf_counter() - t0) / steps
cpu = (time.process_time() - c0) / steps
gn = torch.sqrt(sum((p.grad.double() ** 2).sum() for p in m.parameters() if p.grad is not None)).item()
print(json.dumps({"step_s": dt, "cpu_s": cpu, "tokens_per_s": T / dt, "loss": loss, "grad_norm": gn,
                  "params": sum(p.numel() for p in m.parameters()),
                  "torch": torch.__version__}))
'''

def timed(cmd, env):
    r = subprocess.run(['/usr/bin/time', '-v'] + cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        sys.exit('failed: %s\n%s%s' % (' '.join(cmd), r.stdout, r.stderr))
    rss = int(re.search(r'Maximum resident set size \(kbytes\): (\d+)', r.stderr).group(1))
    line = [l for l in r.stdout.splitlines() if l.startswith('{')][-1]
    res = json.loads(line)
    res['peak_rss_mb'] = rss / 1024
    return res

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--build', default=os.path.join(ROOT, 'build'))
    ap.add_argument('--threads', type=int, default=os.cpu_count())
    ap.add_argument('--steps', type=int, default=3)
    ap.add_argument('--seq', type=int, default=1024)
    ap.add_argument('--peer-python', default=sys.executable)
    ap.add_argument('--attn', default='sdpa', help='transformers attn_implementation for the peer')
    ap.add_argument('--wait-policy', default='', help='OMP_WAIT_POLICY for both (default: unset)')
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix='l1k_bench_model_')
    model = os.path.join(tmp, 'model')
    # Qwen2.5 architecture scaled to ~49M parameters (39M of them the tied 151,936 x 256 embedding)
    subprocess.run([os.path.join(a.build, 'long1k'), 'init', '--preset', 'qwen2.5-0.5b-instruct',
                    '--layers', '8', '--hidden-size', '256', '--intermediate-size', '1408',
                    '--heads', '4', '--kv-heads', '2', '--dtype', 'f32', '--seed', '1',
                    '--out', model], check=True, stdout=subprocess.DEVNULL)
    exe = os.path.join(tmp, 'model_train_step')
    libs = [os.path.join(a.build, 'liblong1k_model.a'), os.path.join(a.build, 'liblong1k_core.a')]
    blas = subprocess.run(['pkg-config', '--cflags', '--libs', 'openblas'], capture_output=True,
                          text=True, check=True).stdout.split()
    subprocess.run(['cc', '-O2', '-fopenmp', '-I', os.path.join(ROOT, 'include'),
                    os.path.join(HERE, 'model_train_step.c')] + libs +
                   ['-lcjson', '-lz', '-lm'] + blas + ['-o', exe], check=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), OPENBLAS_NUM_THREADS=str(a.threads))
    env.pop('OMP_WAIT_POLICY', None)
    if a.wait_policy:
        env['OMP_WAIT_POLICY'] = a.wait_policy
    ours = timed([exe, model, str(a.seq), str(a.steps)], env)
    peer_script = os.path.join(tmp, 'peer.py')
    open(peer_script, 'w').write(PEER)
    peer = timed([a.peer_python, peer_script, model, str(a.seq), str(a.steps), str(a.threads), a.attn], env)
    print('model: Qwen2.5 architecture, %d parameters (8 layers, hidden 256, vocab 151936), '
          'seq %d, batch 1, %d threads, %d timed steps, OMP_WAIT_POLICY=%s' % (
              ours['params'], a.seq, a.threads, a.steps, a.wait_policy or '(unset)'))
    print('| implementation | s/step (wall) | CPU s/step | tokens/s | peak RSS MB | loss | grad norm |')
    print('|---|---|---|---|---|---|---|')
    print('| long1k | %.3f | %.3f | %.0f | %.0f | %.5f | %.5f |' % (ours['step_s'], ours['cpu_s'],
          ours['tokens_per_s'], ours['peak_rss_mb'], ours['loss'], ours['grad_norm']))
    print('| transformers + torch %s (%s) | %.3f | %.3f | %.0f | %.0f | %.5f | %.5f |' % (
          peer['torch'], a.attn, peer['step_s'], peer['cpu_s'], peer['tokens_per_s'],
          peer['peak_rss_mb'], peer['loss'], peer['grad_norm']))
    print('speedup (wall): %.2fx, CPU time: %.2fx less, memory: %.2fx less' % (
          peer['step_s'] / ours['step_s'], peer['cpu_s'] / ours['cpu_s'],
          peer['peak_rss_mb'] / ours['peak_rss_mb']))
    subprocess.run(['rm', '-rf', tmp])

if __name__ == '__main__':
    main()
