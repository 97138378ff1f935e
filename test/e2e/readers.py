#!/usr/bin/env python3
# readers.py — readers for fuse_readers.bats: what a program holding a file open sees
# while the file's value is replaced. A value is one byte repeated SIZE times, so any byte
# of another value, and any short or long read, shows.
#
#   readers.py value BYTE SIZE FILE        write such a value to FILE
#   readers.py save BYTE SIZE FILE         an editor's save: write FILE.tmp, os.replace
#   readers.py hold FILE BYTE SIZE READY GO [eio-ok]
#        open FILE (whose value must be BYTE*SIZE), read a first piece, create READY, wait
#        for GO to exist, read the rest; fstat at both moments. Prints "whole" when every
#        byte was the old value's, "eio" when a read failed with EIO after only old bytes
#        (allowed with eio-ok, which also lets fstat show the new size), or what went
#        wrong (exit 1).
#   readers.py loop FILE SECONDS SIZES...
#        open, read whole, close, again, for SECONDS: each pass must be one value whole
#        (one byte, a size from SIZES) or fail with EIO. Prints "passes=N eio=M"; exit 1
#        and a description on the first mixed or short read.
import errno
import os
import sys
import time

PIECE = 64 * 1024


def value(byte, size):
    return bytes([byte]) * size


def write_value(path, byte, size):
    with open(path, "wb") as f:
        f.write(value(byte, size))


def save(path, byte, size):
    tmp = path + ".tmp"
    write_value(tmp, byte, size)
    os.replace(tmp, path)


def wait_for(path, seconds=120):
    deadline = time.monotonic() + seconds
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise SystemExit("timed out waiting for " + path)
        time.sleep(0.01)


def describe(data, byte, size):
    """What is wrong with data as the value byte*size, or None."""
    for i, b in enumerate(data):
        if b != byte:
            return "byte %d is %#x, not %#x (of another value)" % (i, b, byte)
    if len(data) != size:
        return "%d bytes, not %d" % (len(data), size)
    return None


def check_fstat(fd, size, when, strict=True):
    """fstat must work; strict: and show the size the descriptor opened (a replace made
    elsewhere shares the kernel's inode with the new value, whose size it may show)."""
    try:
        st = os.fstat(fd)
    except OSError as e:
        raise SystemExit("fstat %s: %s" % (when, os.strerror(e.errno)))
    if strict and st.st_size != size:
        raise SystemExit("fstat %s: size %d, not %d" % (when, st.st_size, size))


def hold(path, byte, size, ready, go, eio_ok):
    fd = os.open(path, os.O_RDONLY)
    data = bytearray(os.read(fd, PIECE))
    check_fstat(fd, size, "before")
    open(ready, "w").close()
    wait_for(go)
    check_fstat(fd, size, "after", not eio_ok)
    outcome = "whole"
    while True:
        try:
            piece = os.read(fd, PIECE)
        except OSError as e:
            if e.errno != errno.EIO:
                raise
            outcome = "eio"
            break
        if not piece:
            break
        data += piece
    check_fstat(fd, size, "at the end", not eio_ok)
    os.close(fd)
    wrong = describe(data, byte, size if outcome == "whole" else len(data))
    if wrong:
        raise SystemExit("read " + wrong)
    if outcome == "eio" and not eio_ok:
        raise SystemExit("read failed with EIO after %d bytes" % len(data))
    print(outcome)


def loop(path, seconds, sizes):
    passes = eio = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with open(path, "rb") as f:
                data = b""
                while True:
                    piece = f.read(PIECE)
                    time.sleep(0.002)	# slow enough to span a save
                    if not piece:
                        break
                    data += piece
        except OSError as e:
            if e.errno == errno.EIO:
                eio += 1
                continue
            if e.errno == errno.ENOENT:	# between a DELETE and its PUT
                continue
            raise
        passes += 1
        if len(data) not in sizes or (data and data.count(data[0]) != len(data)):
            kinds = sorted(set(data))
            raise SystemExit("pass %d: %d bytes of values %s" % (passes, len(data), kinds))
    print("passes=%d eio=%d" % (passes, eio))


def main(argv):
    cmd = argv[1]
    if cmd == "value":
        write_value(argv[4], int(argv[2]), int(argv[3]))
    elif cmd == "save":
        save(argv[4], int(argv[2]), int(argv[3]))
    elif cmd == "hold":
        hold(argv[2], int(argv[3]), int(argv[4]), argv[5], argv[6],
             len(argv) > 7 and argv[7] == "eio-ok")
    elif cmd == "loop":
        loop(argv[2], float(argv[3]), set(int(s) for s in argv[4:]))
    else:
        raise SystemExit("unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv)
