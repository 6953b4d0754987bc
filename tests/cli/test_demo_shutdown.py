"""Ctrl-C in the demo's terminal reaches the demo, not its simulated cameras: they must
outlive the keypress until the demo has stopped recording (else every camera 'ends its
stream' during shutdown, with warnings and gaps)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

# A stand-in for `camerahub demo`: spawns a long-lived child the demo's way, then receives
# the terminal's SIGINT (sent to its whole process group) and reports whether the child
# is still alive, then stops it as the demo does.
SCRIPT = textwrap.dedent("""
    import os, signal, sys, threading
    from camerahub.cli.demo_story import spawn_detached

    CHILD = ("import signal, sys, time\\n"
             "signal.signal(signal.SIGINT, lambda *_: print('child got SIGINT', flush=True))\\n"
             "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\\n"
             "print('ready', flush=True)\\n"
             "while True: time.sleep(1)\\n")
    child = spawn_detached([sys.executable, "-c", CHILD])
    assert child.stdout.readline().strip() == "ready"
    got = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: got.set())
    os.killpg(0, signal.SIGINT)  # what Ctrl-C does: the whole foreground group
    assert got.wait(30)
    child.send_signal(signal.SIGTERM)  # the demo stops it last, after the recorder
    rest = child.stdout.read()  # to the end: a SIGINT it got is printed before it exits
    child.wait(30)
    print(rest.strip() or "child saw no SIGINT", flush=True)
""")


def test_ctrl_c_reaches_the_demo_but_not_its_simulator():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         timeout=120, env=env, start_new_session=True)  # a group of its own
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "child saw no SIGINT", out.stdout + out.stderr
