#!/usr/bin/python3
"""A peer that never answers: `blackhole.py tcp PORT` accepts connections and
reads nothing back; `blackhole.py udp PORT` binds and drops every datagram."""
import socket
import sys
import time

kind, port = sys.argv[1], int(sys.argv[2])
if kind == "tcp":
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(16)
    held = []
    print("listening", port, flush=True)
    while True:
        conn, _ = s.accept()
        held.append(conn)  # keep it open, never answer
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", port))
    print("listening", port, flush=True)
    while True:
        time.sleep(3600)
