#!/usr/bin/env python3
"""badclient.py — clients that misbehave, for http_badclient.bats (raw sockets).

  hold PORT [--trickle N] [--stall N] [--idle N] [--size BYTES] [--prefix P] [--src ADDR]
      N uploads that declare BYTES and send one byte a second (trickle), N that send one
      byte and then nothing (stall), N connections that send nothing (idle). Prints
      "ready" once all are open, then "closed N" each time the server has closed more of
      them; runs until killed.
  cycles PORT CLIENTS CYCLES [--big BYTES] [--deadline SECONDS]
      CLIENTS threads each do CYCLES rounds of PUT (201), GET (302), DELETE (200) of its
      own keys (every third PUT is BYTES long, streamed); prints what it measured and exits
      1 when any request failed, took longer than 60 s, or was not sent before the
      deadline (default 180 s).
  send PORT [--wait SECONDS] [--close-write]
      Send stdin as it is, print the server's answer (what came within SECONDS).
"""
import argparse
import http.client
import selectors
import socket
import sys
import threading
import time


def connect(port, src=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if src:
        s.bind((src, 0))
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    s.setblocking(False)
    return s


def hold(a):
    sel = selectors.DefaultSelector()
    trickling, opened = [], 0
    head = ("PUT /{}{} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n\r\nx")
    for kind, n in (("trickle", a.trickle), ("stall", a.stall), ("idle", a.idle)):
        for i in range(n):
            s = connect(a.port, a.src)
            if kind != "idle":
                s.sendall(head.format(a.prefix, f"{kind}-{i}", a.size).encode())
            if kind == "trickle":
                trickling.append(s)
            sel.register(s, selectors.EVENT_READ)
            opened += 1
    print("ready", flush=True)
    closed = 0
    next_byte = time.monotonic() + 1
    while True:
        for key, _ in sel.select(timeout=max(0, next_byte - time.monotonic())):
            s = key.fileobj
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if not data:
                sel.unregister(s)
                if s in trickling:
                    trickling.remove(s)
                s.close()
                closed += 1
                print(f"closed {closed}", flush=True)
        if time.monotonic() >= next_byte:
            next_byte += 1
            for s in list(trickling):
                try:
                    s.send(b"x")
                except OSError:
                    pass


def cycles(a):
    fails, times, lock = [], [], threading.Lock()
    t0 = time.monotonic()

    def one(c):
        conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=60)
        for i in range(a.cycles):
            if time.monotonic() - t0 > a.deadline:
                with lock:
                    fails.append(f"cycles {i}.. of client {c}: not run by the deadline")
                break
            key = f"/cycle-{c}-{i}"
            body = b"v" * a.big if i % 3 == 2 else f"value {c} {i}".encode()
            for method, want, data in (("PUT", 201, body), ("GET", 302, None),
                                       ("DELETE", 200, None)):
                t1 = time.monotonic()
                try:
                    conn.request(method, key, body=data)
                    r = conn.getresponse()
                    r.read()
                    status = r.status
                except Exception as e:  # a timeout, a reset: a failed cycle
                    status = repr(e)
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=60)
                with lock:
                    times.append(time.monotonic() - t1)
                    if status != want:
                        fails.append(f"{method} {key}: {status}")
        conn.close()

    ts = [threading.Thread(target=one, args=(c,)) for c in range(a.clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    wall = time.monotonic() - t0
    n = a.clients * a.cycles
    times.sort()
    print(f"{n} cycles ({3 * n} requests) in {wall:.2f} s: {3 * n / wall:.0f} requests/s, "
          f"PUT+GET+DELETE cycles {n / wall:.0f}/s; slowest request {times[-1]:.2f} s; "
          f"{len(fails)} failed")
    for f in fails[:10]:
        print("  " + f)
    sys.exit(1 if fails else 0)


def send(a):
    s = connect(a.port)
    s.setblocking(True)
    s.sendall(sys.stdin.buffer.read())
    if a.close_write:
        s.shutdown(socket.SHUT_WR)
    s.settimeout(a.wait)
    got = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            got += d
    except (socket.timeout, ConnectionResetError):
        pass
    sys.stdout.write(got.decode("latin-1"))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    h = sub.add_parser("hold")
    h.add_argument("port", type=int)
    h.add_argument("--trickle", type=int, default=0)
    h.add_argument("--stall", type=int, default=0)
    h.add_argument("--idle", type=int, default=0)
    h.add_argument("--size", type=int, default=1 << 20)
    h.add_argument("--prefix", default="")
    h.add_argument("--src")
    c = sub.add_parser("cycles")
    c.add_argument("port", type=int)
    c.add_argument("clients", type=int)
    c.add_argument("cycles", type=int)
    c.add_argument("--big", type=int, default=200000)
    c.add_argument("--deadline", type=float, default=180)
    s = sub.add_parser("send")
    s.add_argument("port", type=int)
    s.add_argument("--wait", type=float, default=10)
    s.add_argument("--close-write", action="store_true")
    a = p.parse_args()
    {"hold": hold, "cycles": cycles, "send": send}[a.cmd](a)


if __name__ == "__main__":
    main()
