#!/usr/bin/python3
"""Prints the number of good (not failed) raw samples in a floe database:
the legacy table `sample` plus the blobs of sample_log and raw_chunk,
decoded as store/store_codec.h describes (a failed read is control byte
0xFF). For tests that watch a running agent's history with no HTTP in
between (agent_crash.sh)."""
import sqlite3
import sys


def varint(b, i):
    v = shift = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return v, i


def good_in_blob(b):
    single = b[0:1] == b"C"
    count, i = varint(b, 1)
    if single:
        _, i = varint(b, i)
    good = 0
    for _ in range(count):
        if not single:
            _, i = varint(b, i)
        _, i = varint(b, i)
        ctrl = b[i]
        i += 1
        if ctrl == 0xFF:
            continue
        good += 1
        if ctrl:
            i += ctrl & 15
    if i != len(b):
        raise ValueError("bytes left over")
    return good


db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=2)
total = db.execute("SELECT count(*) FROM sample WHERE value IS NOT NULL").fetchone()[0]
for table in ("sample_log", "raw_chunk"):
    for (data,) in db.execute("SELECT data FROM %s" % table):
        total += good_in_blob(bytes(data))
print(total)
