"""What the tests read from a fake server: one line an event on stdout, written whole and flushed
at once, from whichever of the server's threads saw it."""

import sys
import threading

_LOCK = threading.Lock()


def emit(line):
    with _LOCK:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
