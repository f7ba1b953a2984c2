#!/usr/bin/env python3
"""Writes small valid seeds for fuzz_train_state and fuzz_dataset_cache (standard library only).
Each seed is one flag byte (see the targets) followed by a file in the format of
src/train/checkpoint.c (train_state.bin) or src/train/dataset.c (cache/ds-*.bin)."""
import os, struct, sys, zlib

here = os.path.dirname(os.path.abspath(__file__))

def with_crc(b):
    b = bytearray(b); b[12:16] = b"\0\0\0\0"
    b[12:16] = struct.pack("<I", zlib.crc32(bytes(b)) & 0xffffffff)
    return bytes(b)

def train_state(n_params, n_rows, step, rows_per_step):
    spe = (n_rows + rows_per_step - 1) // rows_per_step
    epoch = (step - 1) // spe if step > 0 else -1
    h = b"L1KTS002" + struct.pack("<II", 2, 0) + struct.pack("<Q", n_params)
    h += struct.pack("<qqqqq", step, step, 100 * step, epoch, n_rows)   # adam, global, tokens, epoch, rows
    h += struct.pack("<Qq", 7, rows_per_step) + struct.pack("<qqd", 1, 10, 2.5) + b"\0" * 24
    assert len(h) == 128
    body = struct.pack("<%df" % (3 * n_params), *([0.5] * 3 * n_params))
    body += struct.pack("<%dq" % n_rows, *reversed(range(n_rows)))
    return with_crc(h + body)

def cache(samples):
    off, ids, mask = [0], [], []
    for s in samples:
        ids += s; mask += [0] + [1] * (len(s) - 1); off.append(len(ids))
    h = b"L1KDS003" + struct.pack("<II", 3, 0) + struct.pack("<Q", 0x1234)
    h += struct.pack("<qq", len(samples), len(ids)) + struct.pack("<6q", len(samples), 0, 0, 0, 0, 0) + b"\0" * 40
    assert len(h) == 128
    body = struct.pack("<%dq" % len(off), *off) + struct.pack("<%di" % len(ids), *ids) + bytes(mask)
    return with_crc(h + body)

def write(sub, name, data):
    d = os.path.join(here, "seeds", sub); os.makedirs(d, exist_ok=True)
    open(os.path.join(d, name), "wb").write(data)

write("train_state", "small", b"\x01" + train_state(3, 4, 3, 2))
write("train_state", "empty_rows", b"\x00" + train_state(1, 1, 1, 1))
write("dataset_cache", "small", b"\x03" + cache([[5, 6, 7], [1, 2]]))
write("dataset_cache", "one", b"\x02" + cache([[9, 9, 9, 9]]))
