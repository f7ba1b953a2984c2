#!/usr/bin/env python3
"""A small OpenAI-compatible server for the tests of `long1k eval` (standard library only).

Binds 127.0.0.1 on an ephemeral port, prints the port on the first line of stdout, and stops
by itself after --lifetime seconds (or --idle seconds without a request).

POST /v1/chat/completions and /v1/completions answer from directives written in the prompt:
  [[id=X]]           names the problem (the request key is "X#<seed>")
  [[ans=V]]          the answer to put in \\boxed{V}         (default: 0)
  [[choice=TEXT]]    multiple choice: answer with the letter of the option whose text is TEXT
  [[slow=S]]         sleep S seconds before answering
  [[stallxK]]        the first K requests of a key sleep 3 s before answering (client timeouts)
  [[badrequest]]     every request gets HTTP 400 (not worth a retry)
  [[429xK]]          the first K requests of a key get HTTP 429 with Retry-After: 1
  [[500xK]]          the first K requests get HTTP 500
  [[malformedxK]]    the first K requests get a 200 whose body is not JSON
  [[malformed-always]] every request gets a body that is not JSON
  [[dropxK]]         the first K requests: the connection is closed without an answer
  [[trunc]]          finish_reason "length" and no boxed answer
  [[think]]          the response opens with <think>...</think>
  [[tokens=N]]       usage.completion_tokens (default: words in the response)
  [[judge-flip]]     the judge model answers the opposite of the truth
Requests whose "model" is "judge" are judged: CORRECT when \\boxed{<reference>} is in the tail.
Requests whose "model" is "forbidden" get HTTP 404.
With --bench FILE (a benchmark JSONL), a prompt holding one of its problems is answered like a
model with accuracy --accuracy: right or wrong by a hash of (problem, seed), wrong answers
longer, some of them cut off (finish_reason "length"). For demos of the summary table.
GET /stats returns {"counts": {key: n}, "times": {key: [t, ...]}, "judge": {key: n}}.
Every response carries a last line "mock-key: <key>" so a test can map results to requests.
"""
import argparse
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
COUNTS, TIMES, JUDGE = {}, {}, {}
LAST = [time.time()]
BENCH = []   # (problem text, answer) from --bench
ACC = [0.6]


def directive(text, name, default=None):
    m = re.search(r"\[\[" + re.escape(name) + r"=(.*?)\]\]", text)
    return m.group(1) if m else default


def fail_count(text, kind):
    m = re.search(r"\[\[" + kind + r"x(\d+)\]\]", text)
    return int(m.group(1)) if m else 0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def send_json(self, code, obj, extra_headers=()):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra_headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        LAST[0] = time.time()
        if self.path == "/stats":
            with LOCK:
                self.send_json(200, {"counts": COUNTS, "times": TIMES, "judge": JUDGE})
        else:
            self.send_json(404, {"error": {"message": "not found"}})

    def do_POST(self):
        LAST[0] = time.time()
        n = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(n)
        try:
            req = json.loads(raw)
        except ValueError:
            self.send_json(400, {"error": {"message": "bad json"}})
            return
        chat = self.path.endswith("/chat/completions")
        if not chat and not self.path.endswith("/completions"):
            self.send_json(404, {"error": {"message": "no such route " + self.path}})
            return
        if chat:
            text = "\n".join(m.get("content", "") for m in req.get("messages", []))
        else:
            text = req.get("prompt", "")
        model = req.get("model", "")
        if model == "forbidden":
            self.send_json(404, {"error": {"message": "model not found"}})
            return
        if model == "judge":
            return self.judge(text)
        if BENCH and "[[id=" not in text:
            return self.bench_answer(req, text, chat)
        key = "%s#%s" % (directive(text, "id", "?"), req.get("seed", "none"))
        with LOCK:
            k = COUNTS.get(key, 0) + 1
            COUNTS[key] = k
            TIMES.setdefault(key, []).append(time.time())
        slow = float(directive(text, "slow", "0"))
        if k <= fail_count(text, "stall"):
            slow = 3.0
        if slow:
            time.sleep(slow)
        if "[[badrequest]]" in text:
            self.send_json(400, {"error": {"message": "prompt too long for the context"}})
            return
        if k <= fail_count(text, "429"):
            self.send_json(429, {"error": {"message": "rate limited"}}, [("Retry-After", "1")])
            return
        if k <= fail_count(text, "500"):
            self.send_json(500, {"error": {"message": "internal"}})
            return
        if k <= fail_count(text, "drop"):
            self.close_connection = True
            try:
                import socket
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if "[[malformed-always]]" in text or k <= fail_count(text, "malformed"):
            body = b'{"choices": [{"message": {"content": "trunc'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        ans = directive(text, "ans", "0")
        choice = directive(text, "choice")
        if choice is not None:
            m = re.search(r"^([A-E])\) " + re.escape(choice) + r"$", text, re.M)
            ans = m.group(1) if m else "Z"
        lines = ["Let me work through this.", "First, read the problem carefully.",
                 "Then compute step by step."]
        if "[[think]]" in text:
            lines = ["<think>", "hmm, thinking at length", "</think>"] + lines
        finish = "stop"
        if "[[trunc]]" in text:
            lines.append("and then we continue with the long computation of")
            finish = "length"
        else:
            lines.append("So the final answer is $\\boxed{%s}$." % ans)
        lines.append("mock-key: " + key)
        content = "\n".join(lines)
        toks = int(directive(text, "tokens", str(len(content.split()))))
        usage = {"prompt_tokens": len(text.split()), "completion_tokens": toks,
                 "total_tokens": toks + len(text.split())}
        if chat:
            choice_obj = {"index": 0, "message": {"role": "assistant", "content": content},
                          "finish_reason": finish}
        else:
            choice_obj = {"index": 0, "text": content, "finish_reason": finish}
        self.send_json(200, {"id": "cmpl-1", "object": "chat.completion" if chat else "text_completion",
                             "model": model, "choices": [choice_obj], "usage": usage})

    def bench_answer(self, req, text, chat):
        import hashlib
        idx = next((i for i, (p, _) in enumerate(BENCH) if p in text), None)
        key = "b%s#%s" % (idx, req.get("seed", "none"))
        with LOCK:
            COUNTS[key] = COUNTS.get(key, 0) + 1
        h = int(hashlib.sha256(key.encode()).hexdigest(), 16)
        if idx is None:
            ans, ok = "0", False
        else:
            gold = BENCH[idx][1]
            # problem difficulty varies: accuracy shifted per problem
            pacc = min(1.0, max(0.0, ACC[0] + ((idx * 37) % 100 - 50) / 100.0))
            ok = (h % 1000) < pacc * 1000
            ans = gold if ok else gold + "1"
        toks = 1500 + (h >> 12) % 3000 + (0 if ok else 4000)
        finish = "stop"
        content = "Let me think step by step.\n...\nSo the final answer is $\\boxed{%s}$." % ans
        if not ok and (h >> 40) % 4 == 0:
            finish, toks = "length", req.get("max_tokens") or 32768
            content = "Let me think step by step.\n... (cut off)"
        usage = {"prompt_tokens": len(text.split()), "completion_tokens": toks}
        c = ({"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}
             if chat else {"index": 0, "text": content, "finish_reason": finish})
        self.send_json(200, {"choices": [c], "usage": usage})

    def judge(self, text):
        ref = re.search(r"Reference answer:\n(.*?)\n", text)
        ref = ref.group(1).strip() if ref else ""
        tail = text.split("The last lines of the student's response:\n", 1)[-1]
        key = re.search(r"mock-key: (\S+)", tail)
        key = key.group(1) if key else "?"
        with LOCK:
            JUDGE[key] = JUDGE.get(key, 0) + 1
        ok = ("\\boxed{%s}" % ref) in tail
        if "[[judge-flip]]" in text:
            ok = not ok
        verdict = "The student's final answer %s the reference.\nVERDICT: %s" % (
            "matches" if ok else "does not match", "CORRECT" if ok else "INCORRECT")
        self.send_json(200, {"choices": [{"index": 0, "message": {"role": "assistant", "content": verdict},
                                          "finish_reason": "stop"}],
                             "usage": {"prompt_tokens": 10, "completion_tokens": 10}})


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # a client killed mid-answer (the interrupt test) is expected: stay quiet about it
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lifetime", type=float, default=120)
    ap.add_argument("--idle", type=float, default=60)
    ap.add_argument("--bench", help="benchmark JSONL to answer like a model (demo)")
    ap.add_argument("--accuracy", type=float, default=0.6)
    a = ap.parse_args()
    ACC[0] = a.accuracy
    if a.bench:
        with open(a.bench) as f:
            for line in f:
                if line.strip():
                    r = json.loads(line)
                    ans = r["answer"]
                    if isinstance(ans, float) and ans == int(ans):
                        ans = int(ans)
                    BENCH.append((r["problem"], str(ans)))
    srv = Server(("127.0.0.1", 0), Handler)
    print(srv.server_address[1], flush=True)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    start = time.time()
    while time.time() - start < a.lifetime and time.time() - LAST[0] < a.idle:
        time.sleep(0.1)
    srv.shutdown()
    sys.exit(0)


if __name__ == "__main__":
    main()
