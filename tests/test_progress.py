"""The progress bar for file input: on stderr when it is a terminal (bytes and files read), never
when it is not, never with -q, as the Loki path already does."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios

from analyzer import analyze
from testing.examples import EXAMPLES, WINDOW

LOGS = str(EXAMPLES / "logs" / "kubectl")


def test_the_library_shows_the_bar_when_asked(capsys):
    analyze([LOGS], progress=True, **WINDOW)
    err = capsys.readouterr().err
    total = sum(os.path.getsize(os.path.join(LOGS, name)) for name in os.listdir(LOGS))
    assert "files:" in err and f"{total / 1024:.0f}k" in err and "B/s" in err


def test_no_bar_when_stderr_is_not_a_terminal(capsys):
    analyze([LOGS], **WINDOW)
    assert "files:" not in capsys.readouterr().err


def _stderr_on_a_terminal(*args: str) -> str:
    """Run `analyze` with stderr on a pseudo-terminal; what it wrote there."""
    leader, follower = pty.openpty()
    # a fresh pseudo-terminal is 0 columns wide, where tqdm draws nothing: give it a size
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    done = subprocess.run(
        [sys.executable, "-m", "analyzer.cli", *args],
        stdout=subprocess.DEVNULL,
        stderr=follower,
        timeout=300,
        check=False,
    )
    os.close(follower)
    out = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(leader)
    assert done.returncode == 0
    return out.decode(errors="replace")


def test_the_cli_shows_the_bar_on_a_terminal_and_not_with_quiet():
    window = ["--from", WINDOW["from_"], "--to", WINDOW["to"]]
    assert "files:" in _stderr_on_a_terminal(LOGS, *window)
    assert "files:" not in _stderr_on_a_terminal(LOGS, *window, "-q")
