#!/usr/bin/python3
"""The Modbus collector against independent servers, on 127.0.0.1 only.

    tests/integration/modbus_pymodbus.py BUILD

- A python3-pymodbus (3.0, Debian) TCP server holds every type in every
  word/byte order in holding and input registers, register bits, a scaled
  value, a NaN, coils and discretes. mbpoll (an independent client) proves
  the map; then our collector reads it through tests/integration/mb_read.c,
  compiled here against BUILD/libfloe.a, and every value is compared
  exactly. The server counts the requests it gets: they must equal the
  plan, which must equal the minimum for the map.
- A raw socket server answers with field garbage: wrong unit id, exception
  codes, busy, short replies, wrong function code, trailing bytes, closed
  connections. Each must give its clear reason and never stop the others.
- A device that accepts but never answers, a blackholed port (full accept
  queue: SYNs are dropped) and a closed port are polled beside a live one:
  the live device must not be delayed, the hung one must return within
  timeout x (retries + 1), and reconnects must back off.
Prints `ok - name` / `not ok - name: why`; exits 1 if any check failed.
"""
import asyncio
import logging
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

logging.disable(logging.CRITICAL)  # pymodbus logs every dropped connection

from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
from pymodbus.server.async_io import ModbusTcpServer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build"))
HOST = "127.0.0.1"
FAILED = 0
DRIVER_PROBLEMS = []  # mb_read runs that crashed or printed to stderr (sanitizers)


def check(name, cond, why=""):
    global FAILED
    if cond:
        print(f"ok - {name}", flush=True)
    else:
        FAILED += 1
        print(f"not ok - {name}: {why}", flush=True)


# ---- the map: every type in every order -------------------------------------

TYPES = {  # struct format, registers, test value (every byte different)
    "uint16": (">H", 1, 48879),
    "int16": (">h", 1, -12345),
    "uint32": (">I", 2, 3735928559),
    "int32": (">i", 2, -123456789),
    "float32": (">f", 2, 123.456),
    "uint64": (">Q", 4, 0x0123456789ABCDEF),
    "int64": (">q", 4, -1234567890123456789),
    "float64": (">d", 4, -98765.4321),
}
ORDERS = ["ABCD", "DCBA", "BADC", "CDAB"]


def encode(type_, order, value):
    """Register words for value, written independently of the C decoder:
    bytes A.. big-endian; DCBA reverses all bytes, CDAB the words, BADC the
    bytes inside each word. 16-bit registers are always big-endian."""
    fmt, nregs, _ = TYPES[type_]
    raw = struct.pack(fmt, value)
    if nregs > 1 and order == "DCBA":
        raw = raw[::-1]
    words = [raw[i:i + 2] for i in range(0, len(raw), 2)]
    if nregs > 1 and order == "CDAB":
        words = words[::-1]
    if nregs > 1 and order == "BADC":
        words = [w[::-1] for w in words]
    return [struct.unpack(">H", w)[0] for w in words]


def expected(type_):
    fmt, _, value = TYPES[type_]
    return struct.unpack(fmt, struct.pack(fmt, value))[0] if type_ == "float32" else float(value)


class CountingBlock(ModbusSequentialDataBlock):
    """Counts every read request that reaches the table (valid or not)."""

    def __init__(self, values):
        super().__init__(0, values)
        self.requests = 0

    def validate(self, address, count=1):
        self.requests += 1
        return super().validate(address, count)


def build_map():
    """Returns (blocks, points, expected values by metric)."""
    hr, ir = [0] * 65536, [0] * 300
    co, di = [0] * 100, [0] * 600
    points, want = [], {}
    cursor = 100
    for order in ORDERS:  # holding: contiguous from 100
        for type_ in TYPES:
            words = encode(type_, order, TYPES[type_][2])
            hr[cursor:cursor + len(words)] = words
            metric = f"hr.{type_}.{order.lower()}"
            points.append(f"point {metric} holding {cursor} {type_} {order} -1 1 0")
            want[metric] = expected(type_)
            cursor += len(words)
    hr[181] = 0x8005  # bits 0, 2 and 15 set
    for bit, value in ((0, 1.0), (1, 0.0), (2, 1.0), (15, 1.0)):
        points.append(f"point hr.status.bit{bit} holding 181 bool ABCD {bit} 1 0")
        want[f"hr.status.bit{bit}"] = value
    hr[182] = 215
    points.append("point hr.scaled holding 182 uint16 ABCD -1 0.5 -10")
    want["hr.scaled"] = 97.5
    hr[190:192] = [0x7FC0, 0x0000]
    points.append("point hr.nan holding 190 float32 ABCD -1 1 0")
    want["hr.nan"] = "holding 190: float32 is NaN (raw 0x7fc00000)"
    cursor = 0
    for order in ORDERS:  # input: 3-register gaps, 173 registers in all
        for type_ in TYPES:
            words = encode(type_, order, TYPES[type_][2])
            ir[cursor:cursor + len(words)] = words
            metric = f"in.{type_}.{order.lower()}"
            points.append(f"point {metric} input {cursor} {type_} {order} -1 1 0")
            want[metric] = expected(type_)
            cursor += len(words) + 3
    for addr, value in ((0, 1), (1, 0), (3, 1), (40, 1)):
        co[addr] = value
        points.append(f"point co.c{addr} coil {addr} bool ABCD -1 1 0")
        want[f"co.c{addr}"] = float(value)
    for addr, value in ((0, 1), (7, 0), (500, 1)):
        di[addr] = value
        points.append(f"point di.d{addr} discrete {addr} bool ABCD -1 1 0")
        want[f"di.d{addr}"] = float(value)
    blocks = {"hr": CountingBlock(hr), "ir": CountingBlock(ir), "co": CountingBlock(co),
              "di": CountingBlock(di)}
    return blocks, points, want


# holding 100..191 fits one request (gaps <= 8); input 0..172 needs two
# (over 125 registers); coils 0..3 and 40 (gap 36); discretes 0..7 and 500.
MIN_REQUESTS = 1 + 2 + 2 + 2


def start_pymodbus(blocks):
    context = ModbusServerContext(
        slaves={1: ModbusSlaveContext(zero_mode=True, **blocks)}, single=False)
    ready, info = threading.Event(), {}

    def run():
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)

        async def serve():
            server = ModbusTcpServer(context, address=(HOST, 0), loop=loop)
            task = asyncio.ensure_future(server.serve_forever())
            await server.serving
            info["port"] = server.server.sockets[0].getsockname()[1]
            ready.set()
            await task

        loop.run_until_complete(serve())

    threading.Thread(target=run, daemon=True).start()
    if not ready.wait(10):
        raise RuntimeError("pymodbus server did not start")
    return info["port"]


# ---- a server with field quirks, selected by the requested address ----------

class QuirkServer:
    """Raw Modbus TCP (unit 1, holding registers); what it does depends on
    the start address. Counts accepted connections and requests."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((HOST, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepts = 0
        self.requests = {}
        self.busy_toggle = 0
        self.lock = threading.Lock()
        self.held = []
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def accept_loop(self):
        while True:
            conn, _ = self.sock.accept()
            with self.lock:
                self.accepts += 1
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    @staticmethod
    def frame(tid, unit, pdu):
        return struct.pack(">HHHB", tid, 0, len(pdu) + 1, unit) + pdu

    def serve(self, conn):
        buf = b""
        while True:
            try:
                data = conn.recv(256)
            except OSError:
                return
            if not data:
                conn.close()
                return
            buf += data
            while len(buf) >= 12:
                tid, _, _, unit, fc, addr, count = struct.unpack(">HHHBBHH", buf[:12])
                buf = buf[12:]
                with self.lock:
                    self.requests[addr] = self.requests.get(addr, 0) + 1
                reply = self.answer(tid, unit, fc, addr, count)
                if reply is None:          # 8000: never answer
                    self.held.append(conn)
                    continue
                if reply == b"close":      # 9000: drop the connection
                    conn.close()
                    return
                conn.sendall(reply)

    def answer(self, tid, unit, fc, addr, count):
        def regs(values, unit_=unit, fc_=fc):
            pdu = bytes([fc_, 2 * len(values)]) + b"".join(struct.pack(">H", v) for v in values)
            return self.frame(tid, unit_, pdu)

        normal = [(addr + i) & 0xFFFF for i in range(count)]
        if addr == 2000:
            return regs(normal, unit_=unit + 1)
        if addr == 3000:
            return self.frame(tid, unit, bytes([fc | 0x80, 2]))
        if addr == 4000:
            return self.frame(tid, unit, bytes([fc | 0x80, 6]))
        if addr == 4100:  # busy every other time
            with self.lock:
                self.busy_toggle ^= 1
                busy = self.busy_toggle
            return self.frame(tid, unit, bytes([fc | 0x80, 6])) if busy else regs(normal)
        if addr == 5000:
            return regs(normal[:-1])
        if addr == 6000:
            return regs(normal, fc_=fc + 1)
        if addr == 7000:
            return regs(normal) + b"\x00\x00"
        if addr == 8000:
            return None
        if addr == 9000:
            return b"close"
        return regs(normal)


def hung_server():
    """Accepts connections and never answers."""
    s = socket.socket()
    s.bind((HOST, 0))
    s.listen(16)
    held = []

    def loop():
        while True:
            held.append(s.accept()[0])

    threading.Thread(target=loop, daemon=True).start()
    return s.getsockname()[1], (s, held)


def blackholed_port():
    """A listener whose accept queue is full: the kernel drops further SYNs,
    so connect() hangs as towards a firewalled host."""
    s = socket.socket()
    s.bind((HOST, 0))
    s.listen(0)
    port = s.getsockname()[1]
    fillers = []
    for _ in range(3):
        c = socket.socket()
        c.setblocking(False)
        try:
            c.connect((HOST, port))
        except BlockingIOError:
            pass
        fillers.append(c)
    time.sleep(0.2)
    return port, (s, fillers)


def closed_port():
    s = socket.socket()
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---- running the collector ---------------------------------------------------

def build_driver(tmp):
    lib = os.path.join(BUILD, "libfloe.a")
    if not os.path.exists(lib):
        return None, f"{lib} is missing (run make BUILD={BUILD})"
    # libfloe.a's collectors reach the config helpers (cJSON) and the SNMP
    # collector: link what the Makefile links.
    libs = subprocess.run(["pkg-config", "--libs", "libmodbus", "libmicrohttpd", "libcurl",
                           "libcjson", "sqlite3", "netsnmp"], capture_output=True,
                          text=True).stdout.split()
    exe = os.path.join(tmp, "mb_read")
    cmd = ["cc", "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror", "-O1",
           "-I" + ROOT,
           "-o", exe, os.path.join(ROOT, "tests/integration/mb_read.c"), lib] + libs + \
          ["-lpthread", "-lm"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        # a sanitizer build (make SAN=1) needs its runtime at link time
        r = subprocess.run(cmd + ["-fsanitize=address,undefined"], capture_output=True, text=True)
    if r.returncode != 0:
        return None, r.stderr.strip()[-500:]
    return exe, ""


class Run:
    """Output of one mb_read invocation, parsed per device."""

    def __init__(self, exe, tmp, spec, timeout=40):
        path = os.path.join(tmp, "spec.txt")
        with open(path, "w") as f:
            f.write(spec)
        r = subprocess.run([exe, path], capture_output=True, text=True, timeout=timeout)
        self.stdout, self.stderr, self.rc = r.stdout, r.stderr, r.returncode
        if r.returncode != 0 or r.stderr:
            DRIVER_PROBLEMS.append(f"exit {r.returncode}: {r.stderr.strip()[-300:]}")
        self.plans, self.polls = {}, {}
        current = {}
        for line in r.stdout.splitlines():
            parts = line.split(" ", 3)
            dev = parts[0]
            if len(parts) >= 3 and parts[1] == "plan":
                self.plans[dev] = int(parts[2])
            elif len(parts) >= 3 and parts[1] == "poll":
                m = re.match(r"\S+ poll (\d+) rc=(-?\d+) at=(\d+) ms=(\d+) err=(.*)", line)
                poll = {"n": int(m[1]), "rc": int(m[2]), "at": int(m[3]), "ms": int(m[4]),
                        "err": m[5], "values": {}, "bad": {}}
                self.polls.setdefault(dev, []).append(poll)
                current[dev] = poll
            elif len(parts) == 4 and parts[1] == "value":
                current[dev]["values"][parts[2]] = float(parts[3])
            elif len(parts) == 4 and parts[1] == "bad":
                current[dev]["bad"][parts[2]] = parts[3]


def compare_values(poll, want):
    """Lists every metric whose reported value or reason differs."""
    wrong = []
    for metric, value in want.items():
        if isinstance(value, str):
            got = poll["bad"].get(metric)
            if got != value:
                wrong.append(f"{metric}: {got!r} != {value!r}")
        elif poll["values"].get(metric) != value:
            wrong.append(f"{metric}: {poll['values'].get(metric, poll['bad'].get(metric))!r}"
                         f" != {value!r}")
    return wrong


def mbpoll(port, *args):
    r = subprocess.run(["mbpoll", "-m", "tcp", "-a", "1", "-p", str(port), "-0", "-1", "-o",
                        "1", *args, HOST], capture_output=True, text=True, timeout=10)
    return re.findall(r"^\[(\d+)\]:\s+(.*)$", r.stdout, re.M)


def main():
    tmp = tempfile.TemporaryDirectory(prefix="floe-mb-")
    try:
        run_checks(tmp.name)
    finally:
        tmp.cleanup()
    sys.exit(1 if FAILED else 0)


def run_checks(tmp):
    exe, why = build_driver(tmp)
    check("mb_read_driver_builds_against_libfloe", exe is not None, why)
    if exe is None:
        return
    blocks, points, want = build_map()
    port = start_pymodbus(blocks)

    # An independent client proves the server holds what we think it holds.
    hr0 = 100  # uint16 ABCD
    f32 = 100 + 1 + 1 + 2 + 2  # float32 ABCD
    i32_cdab = 100 + 3 * 20 + 1 + 1 + 2  # int32 CDAB: mbpoll's default word order
    seen = [mbpoll(port, "-t", "4", "-r", str(hr0)),
            mbpoll(port, "-t", "4:float", "-B", "-r", str(f32)),
            mbpoll(port, "-t", "4:int", "-r", str(i32_cdab)),
            mbpoll(port, "-t", "3", "-r", "4"),
            mbpoll(port, "-t", "0", "-r", "0", "-c", "4"),
            mbpoll(port, "-t", "1", "-r", "0", "-c", "8")]
    expect = [[(str(hr0), "48879 (-16657)")], [(str(f32), "123.456")],
              [(str(i32_cdab), "-123456789")], [("4", "53191 (-12345)")],
              [("0", "1"), ("1", "0"), ("2", "0"), ("3", "1")],
              [(str(i), "1" if i == 0 else "0") for i in range(8)]]
    check("mbpoll_reads_the_server_map", seen == expect, f"{seen} != {expect}")
    for b in blocks.values():
        b.requests = 0

    device = f"device live {HOST} {port} timeout_ms=1000 polls=2 interval_ms=200\n"
    run = Run(exe, tmp, device + "\n".join(points) + "\n")
    polls = run.polls.get("live", [])
    check("live_device_polls_twice", len(polls) == 2 and all(p["rc"] == 0 for p in polls),
          run.stdout[-400:] + run.stderr[-400:])
    for i, poll in enumerate(polls):
        wrong = compare_values(poll, want)
        check(f"every_type_and_order_exact_poll{i} ({len(want)} points)", not wrong,
              "; ".join(wrong[:6]))
    served = sum(b.requests for b in blocks.values())
    plan = run.plans.get("live")
    check(f"requests_per_poll_equal_plan_and_minimum (plan {plan}, served {served / 2:g}"
          f" per poll, minimum {MIN_REQUESTS}, points {len(want)})",
          plan == MIN_REQUESTS and served == 2 * MIN_REQUESTS,
          f"plan {plan}, served {served} in 2 polls, minimum {MIN_REQUESTS}")

    for b in blocks.values():
        b.requests = 0
    run = Run(exe, tmp, f"device each {HOST} {port} one_per_point=1\n" + "\n".join(points) + "\n")
    polls = run.polls.get("each", [])
    served = sum(b.requests for b in blocks.values())
    check(f"one_request_per_point_sends_{len(want)}_requests",
          len(polls) == 1 and served == len(want) and not compare_values(polls[0], want),
          f"served {served}; {run.stdout[-300:]}")

    quirks(exe, tmp, port)
    timing(exe, tmp, port)
    check("driver_runs_exit_cleanly", not DRIVER_PROBLEMS, "; ".join(DRIVER_PROBLEMS))


def quirks(exe, tmp, live_port):
    q = QuirkServer()
    spec = f"""device quirky {HOST} {q.port} busy_retries=2 busy_wait_ms=50 max_gap=0
point q.good holding 1000 uint16 ABCD -1 1 0
point q.wrong_unit holding 2000 uint16 ABCD -1 1 0
point q.illegal holding 3000 uint16 ABCD -1 1 0
point q.busy holding 4000 uint16 ABCD -1 1 0
point q.busy_once holding 4100 uint16 ABCD -1 1 0
point q.short holding 5000 uint32 ABCD -1 1 0
point q.wrong_function holding 6000 uint16 ABCD -1 1 0
point q.trailing holding 7000 uint16 ABCD -1 1 0
point q.after holding 9500 uint16 ABCD -1 1 0
device pymodbus_illegal {HOST} {live_port}
point p.missing input 1000 uint16 ABCD -1 1 0
point p.present holding 100 uint16 ABCD -1 1 0
"""
    run = Run(exe, tmp, spec)
    poll = (run.polls.get("quirky") or [{}])[0]
    want = {
        "q.good": 1000.0,
        "q.wrong_unit": "modbus read holding 2000+1: reply from unit 2, expected unit 1",
        "q.illegal": "modbus read holding 3000+1: Illegal data address",
        "q.busy": "modbus read holding 4000+1: Slave device or server is busy (after 2 retries)",
        "q.busy_once": 4100.0,
        "q.short": "modbus read holding 5000+2: reply carries 2 bytes (1 registers), asked for 2",
        "q.wrong_function": "modbus read holding 6000+1: reply has function code 0x04, "
                            "expected 0x03",
        "q.trailing": "modbus read holding 7000+1: 2 unexpected bytes after the reply",
        "q.after": 9500.0,
    }
    check("garbage_replies_poll_still_succeeds", poll.get("rc") == 0, str(poll)[:300])
    wrong = compare_values(poll, want) if poll else ["no poll"]
    check("garbage_replies_give_clear_reasons_and_other_requests_go_on", not wrong,
          "; ".join(wrong))
    check("busy_device_is_asked_1_plus_busy_retries_times", q.requests.get(4000) == 3,
          f"{q.requests.get(4000)} requests at 4000")
    # one connection, plus a reconnect after each of the four malformed replies
    check("malformed_reply_closes_connection_and_next_request_reconnects", q.accepts == 5,
          f"{q.accepts} connections")
    poll = (run.polls.get("pymodbus_illegal") or [{}])[0]
    check("exception_marks_only_its_points",
          poll.get("rc") == 0 and not compare_values(poll, {
              "p.missing": "modbus read input 1000+1: Illegal data address",
              "p.present": 48879.0}), str(poll)[:300])

    q2 = QuirkServer()
    spec = f"""device resetting {HOST} {q2.port} retries=1 max_gap=0
point r.first holding 1000 uint16 ABCD -1 1 0
point r.reset holding 9000 uint16 ABCD -1 1 0
point r.never holding 9500 uint16 ABCD -1 1 0
"""
    run = Run(exe, tmp, spec)
    poll = (run.polls.get("resetting") or [{}])[0]
    reason = "modbus read holding 9000+1 failed: Connection reset by peer"
    check("broken_connection_retried_then_poll_fails",
          poll.get("rc") == -1 and poll.get("err") == reason
          and poll["values"].get("r.first") == 1000.0 and poll["bad"].get("r.reset") == reason
          and "r.never" not in poll["values"] and q2.requests.get(9000) == 2,
          f"{poll}; {q2.requests}")

    q3 = QuirkServer()
    spec = f"""device closing {HOST} {q3.port} close_after_poll=1 polls=3 interval_ms=100
point c.v holding 1000 uint16 ABCD -1 1 0
"""
    Run(exe, tmp, spec)
    q4 = QuirkServer()
    spec = f"""device keeping {HOST} {q4.port} polls=3 interval_ms=100
point k.v holding 1000 uint16 ABCD -1 1 0
"""
    Run(exe, tmp, spec)
    check("close_after_poll_reconnects_every_poll_else_connection_kept",
          q3.accepts == 3 and q4.accepts == 1, f"{q3.accepts} and {q4.accepts} connections")

    q5 = QuirkServer()
    spec = f"""device pausing {HOST} {q5.port} polls=2 interval_ms=900 max_gap=0 pause_connect_ms=200 pause_between_ms=300
point s.a holding 1000 uint16 ABCD -1 1 0
point s.b holding 1100 uint16 ABCD -1 1 0
"""
    run = Run(exe, tmp, spec)
    polls = run.polls.get("pausing", [])
    ms = [p["ms"] for p in polls]
    check("pauses_after_connect_and_between_requests",
          len(ms) == 2 and 500 <= ms[0] < 700 and 300 <= ms[1] < 450
          and all(p["values"] == {"s.a": 1000.0, "s.b": 1100.0} for p in polls), f"ms {ms}")


def timing(exe, tmp, live_port):
    hung_port, keep_hung = hung_server()
    hole_port, keep_hole = blackholed_port()
    dead_port = closed_port()
    timeout, retries, interval = 500, 1, 1500
    common = f"timeout_ms={timeout} retries={retries} interval_ms={interval} polls=3"
    spec = f"""device live {HOST} {live_port} {common}
point l.v holding 100 uint16 ABCD -1 1 0
point l.f holding 106 float32 ABCD -1 1 0
device hung {HOST} {hung_port} {common}
point h.v holding 0 uint16 ABCD -1 1 0
device hole {HOST} {hole_port} {common}
point b.v holding 0 uint16 ABCD -1 1 0
device dead {HOST} {dead_port} {common}
point d.v holding 0 uint16 ABCD -1 1 0
device backoff {HOST} {dead_port} interval_ms=200 polls=12
point o.v holding 0 uint16 ABCD -1 1 0
device stopped {HOST} {hung_port} timeout_ms=700 retries=3 stop_after_ms=200
point t.v holding 0 uint16 ABCD -1 1 0
"""
    run = Run(exe, tmp, spec)
    live, hung = run.polls.get("live", []), run.polls.get("hung", [])
    hole, dead = run.polls.get("hole", []), run.polls.get("dead", [])
    f32 = struct.unpack(">f", struct.pack(">f", 123.456))[0]
    check(f"dead_device_does_not_delay_live_device (live polls {[p['ms'] for p in live]} ms)",
          len(live) == 3 and all(p["rc"] == 0 and p["ms"] < 200 and
                                 p["values"] == {"l.v": 48879.0, "l.f": f32} for p in live),
          str(live)[:400])
    bound = timeout * (retries + 1)
    check(f"hung_device_returns_within_timeout_x_attempts (polls {[p['ms'] for p in hung]} ms,"
          f" bound {bound} ms)",
          len(hung) == 3 and all(p["rc"] == -1 and bound - 50 <= p["ms"] <= bound + 300 and
                                 p["err"] == "modbus read holding 0+1 failed: Connection timed out"
                                 for p in hung), str(hung)[:400])
    conn = f"modbus connect {HOST}:{hole_port} failed: Connection timed out"
    check(f"blackholed_connect_honours_timeout (polls {[p['ms'] for p in hole]} ms)",
          len(hole) == 3 and timeout - 50 <= hole[0]["ms"] <= timeout + 300
          and hole[0]["err"] == conn + "; will retry in 1500ms"
          and hole[1]["err"] == conn + "; will retry in 3s"
          and hole[2]["err"] == f"reconnect in 2s ({conn})" and hole[2]["ms"] < 50,
          str(hole)[:500])
    conn = f"modbus connect {HOST}:{dead_port} failed: Connection refused"
    check("closed_port_fails_fast_then_backs_off",
          len(dead) == 3 and dead[0]["ms"] < 100 and dead[0]["err"] == conn +
          "; will retry in 1500ms" and dead[2]["err"].startswith("reconnect in 2s"),
          str(dead)[:400])
    attempts = [p["n"] for p in run.polls.get("backoff", [])
                if p["err"].startswith("modbus connect")]
    waits = [p["n"] for p in run.polls.get("backoff", []) if p["err"].startswith("reconnect in")]
    # backoff 200, 400, 800, 1600 ms from each attempt; polls every 200 ms
    check(f"reconnect_backoff_doubles (attempts at polls {attempts})",
          attempts == [0, 1, 3, 7] and len(waits) == 8, f"waits {waits}")
    stopped = run.polls.get("stopped", [])
    check(f"stop_ends_a_hung_poll_after_the_current_request (poll {stopped and stopped[0]['ms']}"
          " ms, without stop 2800 ms)",
          len(stopped) == 1 and stopped[0]["rc"] == -1 and 650 <= stopped[0]["ms"] <= 1000
          and stopped[0]["err"] == "poll interrupted by shutdown", str(stopped)[:300])
    del keep_hung, keep_hole


if __name__ == "__main__":
    main()
