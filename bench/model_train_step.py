#!/usr/bin/env python3
"""One training step (forward + backward) of a Qwen2.5-architecture ~50M-parameter model with
the real 151,936-token vocabulary at sequence 1024: long1k (C, OpenBLAS, OpenMP) against
transformers + PyTorch on the CPU, same shape, same thread count, same token ids.

  python3 bench/model_train_step.py [--build build] [--threads 2] [--steps 3] [--seq 1024]
                                    [--rounds 3] [--peer-python PYTHON]   (torch + transformers)

Each round runs both sides once, in alternating order (long1k first in odd rounds), so that a
virtual machine whose speed drifts by 20% over minutes slows both alike. Prints every round and
a summary table with the medians: seconds per step, CPU seconds per step, tokens/s, peak RSS
(/usr/bin/time -v), loss and gradient norm (the two implementations must agree on these), and
the median of the per-round speedups.
"""
import argparse, json, os, re, statistics, subprocess, sys, tempfile

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
    ap.add_argument('--rounds', type=int, default=3)
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
    peer_script = os.path.join(tmp, 'peer.py')
    open(peer_script, 'w').write(PEER)
    ours_cmd = [exe, model, str(a.seq), str(a.steps)]
    peer_cmd = [a.peer_python, peer_script, model, str(a.seq), str(a.steps), str(a.threads), a.attn]
    print('model: Qwen2.5 architecture, 8 layers, hidden 256, vocab 151936, seq %d, batch 1, '
          '%d threads, %d timed steps per run, %d rounds, OMP_WAIT_POLICY=%s' % (
              a.seq, a.threads, a.steps, a.rounds, a.wait_policy or '(unset)'), flush=True)
    rounds = []
    for r in range(a.rounds):
        if r % 2 == 0:
            ours = timed(ours_cmd, env)
            peer = timed(peer_cmd, env)
        else:
            peer = timed(peer_cmd, env)
            ours = timed(ours_cmd, env)
        rounds.append((ours, peer))
        print('round %d (%s first): long1k %.3f s/step, torch %.3f s/step, speedup %.2fx' % (
            r + 1, 'long1k' if r % 2 == 0 else 'torch', ours['step_s'], peer['step_s'],
            peer['step_s'] / ours['step_s']), flush=True)
    def med(side, key):
        return statistics.median(x[side][key] for x in rounds)
    def peak(side):
        return max(x[side]['peak_rss_mb'] for x in rounds)
    o, p = rounds[-1]
    print('| implementation | s/step (wall, median) | CPU s/step (median) | tokens/s (median) | peak RSS MB | loss | grad norm |')
    print('|---|---|---|---|---|---|---|')
    print('| long1k | %.3f | %.3f | %.0f | %.0f | %.5f | %.5f |' % (
        med(0, 'step_s'), med(0, 'cpu_s'), med(0, 'tokens_per_s'), peak(0), o['loss'], o['grad_norm']))
    print('| transformers + torch %s (%s) | %.3f | %.3f | %.0f | %.0f | %.5f | %.5f |' % (
        p['torch'], a.attn, med(1, 'step_s'), med(1, 'cpu_s'), med(1, 'tokens_per_s'), peak(1),
        p['loss'], p['grad_norm']))
    ratios = sorted(x[1]['step_s'] / x[0]['step_s'] for x in rounds)
    print('speedup (wall): median of rounds %.2fx (range %.2f-%.2fx), CPU time: %.2fx less, '
          'memory: %.2fx less' % (statistics.median(ratios), ratios[0], ratios[-1],
                                  med(1, 'cpu_s') / med(0, 'cpu_s'), peak(1) / peak(0)))
    subprocess.run(['rm', '-rf', tmp])

if __name__ == '__main__':
    main()
