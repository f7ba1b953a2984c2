#!/usr/bin/env python3
"""Golden conversions of tests/train/data/lf_convert/ made by LLaMA-Factory's own code.

Runs DatasetAttr / get_dataset_list (src/llamafactory/data/parser.py) and the alpaca /
sharegpt / openai converters (src/llamafactory/data/converter.py) of hiyouga/LLaMA-Factory,
loaded from a checkout (only those two files; the package's logging / constants / Role
imports are replaced by the few lines they need), on every record of every dataset in
tests/train/data/lf_convert/dataset_info.json. Records are loaded as the `datasets` json
builder gives them: a JSON array or JSON Lines, the files of a directory in name order
(long1k's order; LLaMA-Factory takes os.listdir's), every column of the file present in every
record (None where missing). gzip is decompressed here (LLaMA-Factory itself refuses .gz;
long1k reads it).

Writes tests/train/data/lf_convert/golden.jsonl: one line per record,
{"dataset", "index", "system", "prompt", "response"} as the converter returns them, or
{"dataset", "index", "skipped": true} for records LLaMA-Factory drops (the converter's empty
prompt/response for broken data, or what SupervisedDatasetProcessor drops: an even prompt
length or not exactly one response).

Made with: /tmp/gen-venv/bin/python tests/train/make_lf_goldens.py /work/.mirror/hiyouga+LLaMA-Factory/repo
(LLaMA-Factory commit ff6d4d12eeb035d6ce06805a5733dd7b29f2ac30, Python 3, no other package
than huggingface_hub, which parser.py imports).
"""
import gzip
import json
import os
import subprocess
import sys
import tempfile
import types
from enum import Enum

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data", "lf_convert")


def load_lf(repo):
    pkg = tempfile.mkdtemp()
    show = lambda p: subprocess.check_output(["git", "-C", repo, "show", "HEAD:" + p], text=True)
    rev = subprocess.check_output(["git", "-C", repo, "rev-parse", "HEAD"], text=True).strip()
    os.makedirs(os.path.join(pkg, "llamafactory", "data"))
    os.makedirs(os.path.join(pkg, "llamafactory", "extras"))
    files = {
        "llamafactory/__init__.py": "",
        "llamafactory/extras/__init__.py": "",
        "llamafactory/extras/logging.py": (
            "import logging\n"
            "class _L(logging.Logger):\n"
            "    def warning_rank0(self, *a, **k): self.warning(*a)\n"
            "    def warning_rank0_once(self, *a, **k): self.warning(*a)\n"
            "    def info_rank0(self, *a, **k): pass\n"
            "logging.setLoggerClass(_L)\n"
            "def get_logger(name): return logging.getLogger(name)\n"
        ),
        "llamafactory/extras/constants.py": "DATA_CONFIG = 'dataset_info.json'\n",
        "llamafactory/extras/misc.py": "def use_modelscope(): return False\ndef use_openmind(): return False\n",
        "llamafactory/data/__init__.py": "",
        "llamafactory/data/data_utils.py": (
            "from enum import Enum\n"
            "class Role(str, Enum):\n"
            "    USER = 'user'\n    ASSISTANT = 'assistant'\n    SYSTEM = 'system'\n"
            "    FUNCTION = 'function'\n    OBSERVATION = 'observation'\n"
        ),
        "llamafactory/data/parser.py": show("src/llamafactory/data/parser.py"),
        "llamafactory/data/converter.py": show("src/llamafactory/data/converter.py"),
    }
    for p, t in files.items():
        with open(os.path.join(pkg, p), "w") as f:
            f.write(t)
    sys.path.insert(0, pkg)
    from llamafactory.data import converter, parser

    return parser, converter, rev


def read_records(path):
    op = gzip.open if path.endswith(".gz") else open
    with op(path, "rt", encoding="utf-8") as f:
        text = f.read()
    if text.lstrip().startswith("["):
        return json.loads(text)
    return [json.loads(l) for l in text.splitlines() if l.strip()]


def load_dataset(attr):
    p = os.path.join(DATA, attr.dataset_name)
    files = [os.path.join(p, n) for n in sorted(os.listdir(p))] if os.path.isdir(p) else [p]
    recs = [r for f in files for r in read_records(f)]
    cols = []
    for r in recs:
        cols += [k for k in r if k not in cols]
    return [{k: r.get(k) for k in cols} for r in recs]


def main():
    parser, converter, rev = load_lf(sys.argv[1])
    info = json.load(open(os.path.join(DATA, "dataset_info.json")))
    args = types.SimpleNamespace(media_dir=DATA)
    out = []
    for name, attr in zip(info, parser.get_dataset_list(list(info), DATA)):
        conv = converter.get_dataset_converter(attr.formatting, attr, args)
        for i, rec in enumerate(load_dataset(attr)):
            try:
                r = conv(rec)
            except (KeyError, TypeError, ValueError) as e:  # LLaMA-Factory would crash
                out.append({"dataset": name, "index": i, "skipped": True, "crash": repr(e)})
                continue
            if len(r["_prompt"]) % 2 != 1 or len(r["_response"]) != 1:
                out.append({"dataset": name, "index": i, "skipped": True})
                continue
            role = lambda m: m["role"].value if isinstance(m["role"], Enum) else m["role"]
            out.append({
                "dataset": name, "index": i, "system": r["_system"],
                "prompt": [{"role": role(m), "content": m["content"]} for m in r["_prompt"]],
                "response": [{"role": role(m), "content": m["content"]} for m in r["_response"]],
            })
    with open(os.path.join(DATA, "golden.jsonl"), "w") as f:
        f.write(json.dumps({"made_by": "tests/train/make_lf_goldens.py", "llamafactory": rev}) + "\n")
        for r in out:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"{len(out)} records -> {os.path.join(DATA, 'golden.jsonl')}")


if __name__ == "__main__":
    main()
