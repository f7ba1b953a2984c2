#!/usr/bin/env python3
"""Full SFT optimizer steps on the CPU: `long1k train` against transformers + PyTorch, same
model, same token ids, same threads, same batch x accumulation x sequence length.

One optimizer step = `accum` micro-batches of forward + backward with the loss normalized by the
number of loss tokens in the whole step, global grad-norm clipping (1.0) and AdamW (betas
0.9/0.95, weight decay 1e-4 except biases and norm weights). Both sides run warmup + N steps;
the first step is not timed.

  python3 bench/train_step.py [--build build] [--threads 2] [--steps 3] [--seq 512]
                              [--batch 1] [--accum 4] [--layers 4] [--hidden 256]
                              [--peer-python PYTHON]   (a python with torch + transformers)

Prints a table: tokens/s of an optimizer step, seconds per step, peak RSS (/usr/bin/time -v) and
the loss and grad norm of the timed steps (the two must agree).
"""
import argparse, json, os, re, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

PEER = r'''
import json, sys, time, torch
from transformers import AutoModelForCausalLM
d, data, B, K, steps, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
torch.set_num_threads(threads)
torch.manual_seed(0)
m = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation=sys.argv[7])
m.train()
recs = [json.loads(l) for l in open(data)]
decay = [p for n, p in m.named_parameters() if not (n.endswith("bias") or "norm" in n)]
nodecay = [p for n, p in m.named_parameters() if n.endswith("bias") or "norm" in n]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 1e-4}, {"params": nodecay, "weight_decay": 0.0}],
                        lr=1e-5, betas=(0.9, 0.95), eps=1e-8)
ce = torch.nn.CrossEntropyLoss(reduction="sum", ignore_index=-100)
def step(s):
    mbs = []
    for k in range(K):
        rows = recs[(s * K + k) * B:(s * K + k + 1) * B]
        x = torch.tensor([r["input_ids"] for r in rows]); y = torch.tensor([r["labels"] for r in rows])
        mbs.append((x, y))
    n = sum(int((y[:, 1:] != -100).sum()) for _, y in mbs)
    tot = 0.0
    for x, y in mbs:
        logits = m(input_ids=x).logits
        loss = ce(logits[:, :-1].reshape(-1, logits.shape[-1]), y[:, 1:].reshape(-1)) / n
        loss.backward()
        tot += loss.item()
    gn = torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0).item()
    opt.step()
    opt.zero_grad(set_to_none=False)
    return tot, gn, sum(x.numel() for x, _ in mbs)
step(0)
t0 = time.perf_counter(); tok = 0
for s in range(1, steps + 1):
    loss, gn, t = step(s); tok += t
dt = time.perf_counter() - t0
print(json.dumps({"step_s": dt / steps, "tokens_per_s": tok / dt, "loss": loss, "grad_norm": gn,
                  "torch": torch.__version__}))
'''

def timed(cmd, env):
    r = subprocess.run(['/usr/bin/time', '-v'] + cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        sys.exit('failed: %s\n%s%s' % (' '.join(cmd), r.stdout, r.stderr))
    rss = int(re.search(r'Maximum resident set size \(kbytes\): (\d+)', r.stderr).group(1))
    return r, rss / 1024

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--build', default=os.path.join(ROOT, 'build'))
    ap.add_argument('--threads', type=int, default=os.cpu_count())
    ap.add_argument('--steps', type=int, default=3)
    ap.add_argument('--seq', type=int, default=512)
    ap.add_argument('--batch', type=int, default=1)
    ap.add_argument('--accum', type=int, default=4)
    ap.add_argument('--layers', type=int, default=4)
    ap.add_argument('--hidden', type=int, default=256)
    ap.add_argument('--peer-python', default=sys.executable)
    ap.add_argument('--attn', default='sdpa', help='transformers attn_implementation for the peer')
    ap.add_argument('--repeat', type=int, default=1,
                    help='alternate ours / peer this many times and keep each side\'s best run '
                         '(on a shared machine)')
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix='l1k_bench_train_')
    model = os.path.join(tmp, 'model')
    subprocess.run([os.path.join(a.build, 'long1k'), 'init', '--preset', 'qwen2.5-0.5b-instruct',
                    '--layers', str(a.layers), '--hidden-size', str(a.hidden),
                    '--intermediate-size', str(a.hidden * 11 // 2), '--heads', '4', '--kv-heads', '2',
                    '--dtype', 'f32', '--seed', '1', '--out', model], check=True,
                   stdout=subprocess.DEVNULL)
    V = json.load(open(os.path.join(model, 'config.json')))['vocab_size']
    data = os.path.join(tmp, 'data.jsonl')
    n = a.batch * a.accum * (a.steps + 1)
    # every record holds the same ids: the trainer's shuffled order and the peer's file order
    # then feed identical batches, so losses and grad norms are comparable step by step
    seed, ids = 1, []
    for _ in range(a.seq):
        seed = (seed * 1664525 + 1013904223) & 0xffffffff
        ids.append((seed >> 8) % V)
    with open(data, 'w') as f:
        for i in range(n):
            f.write(json.dumps({"input_ids": ids, "labels": [-100] * 16 + ids[16:]}) + "\n")
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), OPENBLAS_NUM_THREADS=str(a.threads))
    def run_ours(k):
        out = os.path.join(tmp, 'out%d' % k)
        r, rss = timed([os.path.join(a.build, 'long1k'), 'train', '-q',
                        '--model_name_or_path', model, '--finetuning_type', 'full', '--dataset', data,
                        '--formatting', 'tokenized', '--output_dir', out,
                        '--tokenized_cache_dir', os.path.join(tmp, 'cache'),
                        '--cutoff_len', str(a.seq), '--max_steps', str(a.steps + 1),
                        '--per_device_train_batch_size', str(a.batch),
                        '--gradient_accumulation_steps', str(a.accum), '--save_steps', '0',
                        '--logging_steps', '1', '--num_threads', str(a.threads),
                        '--learning_rate', '1e-5', '--warmup_steps', '0',
                        '--lr_scheduler_type', 'constant', '--bf16', 'false'], env)
        log = [json.loads(l) for l in open(os.path.join(out, 'trainer_log.jsonl'))]
        timed_steps = log[1:]
        el = timed_steps[-1]['elapsed'] - log[0]['elapsed']
        tok = timed_steps[-1]['tokens'] - log[0]['tokens']
        return {'step_s': el / len(timed_steps), 'tokens_per_s': tok / el,
                'loss': timed_steps[-1]['loss'], 'grad_norm': timed_steps[-1]['grad_norm'],
                'rss': rss}
    peer_script = os.path.join(tmp, 'peer.py')
    open(peer_script, 'w').write(PEER)
    def run_peer():
        rp, rss = timed([a.peer_python, peer_script, model, data, str(a.batch), str(a.accum),
                         str(a.steps), str(a.threads), a.attn], env)
        res = json.loads([l for l in rp.stdout.splitlines() if l.startswith('{')][-1])
        res['rss'] = rss
        return res
    runs_ours, runs_peer = [], []
    for k in range(a.repeat):
        runs_ours.append(run_ours(k))
        runs_peer.append(run_peer())
    if a.repeat > 1:
        print('all runs, tokens/s: long1k %s, peer %s' % (
            [round(r['tokens_per_s'], 1) for r in runs_ours],
            [round(r['tokens_per_s'], 1) for r in runs_peer]))
    ours = max(runs_ours, key=lambda r: r['tokens_per_s'])
    peer = max(runs_peer, key=lambda r: r['tokens_per_s'])
    ours_rss, peer_rss = ours['rss'], peer['rss']
    print('model: Qwen2.5 architecture (%d layers, hidden %d, vocab %d), seq %d, batch %d x '
          'accumulation %d = %d tokens per optimizer step, %d threads, %d timed steps'
          % (a.layers, a.hidden, V, a.seq, a.batch, a.accum, a.seq * a.batch * a.accum,
             a.threads, a.steps))
    print('| implementation | s/step | tokens/s | peak RSS MB | loss (last step) | grad norm |')
    print('|---|---|---|---|---|---|')
    print('| long1k train | %.3f | %.0f | %.0f | %.5f | %.5f |' % (ours['step_s'], ours['tokens_per_s'],
          ours_rss, ours['loss'], ours['grad_norm']))
    print('| transformers + torch %s (%s) | %.3f | %.0f | %.0f | %.5f | %.5f |' % (
          peer['torch'], a.attn, peer['step_s'], peer['tokens_per_s'], peer_rss,
          peer['loss'], peer['grad_norm']))
    print('speedup: %.2fx, memory: %.2fx less' % (ours['tokens_per_s'] / peer['tokens_per_s'],
          peer_rss / ours_rss))
    subprocess.run(['rm', '-rf', tmp])

if __name__ == '__main__':
    main()
