"""What `large_bodies.py` and `large_streams.py` share: ports on 127.0.0.1, the rule that
calls a path superlinear, and the verdict at the end."""
import socket
import sys
import time

# The 4N run taking more than this many times the N run's time, and over `FLOOR` seconds.
RATIO, FLOOR = 8.0, 0.5


def superlinear(t1, t4):
    """Whether going from N to 4N items took more than linear work can explain."""
    return t4 / max(t1, 1e-3) > RATIO and t4 > FLOOR


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port):
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"nothing listens on 127.0.0.1:{port}")


def verdict(flagged, what):
    """Exit 1 naming the flagged pairs, else say that every one of `what` was linear."""
    if flagged:
        print("superlinear or failed:", *flagged, sep="\n  ")
        sys.exit(1)
    print(f"every {what} linear (4N within {RATIO:g}x of N, or under {FLOOR:g} s)")
