"""pty_drive.py - drives an interactive program (`corral run`'s REPL) through a pseudo-terminal
for the integration tests; a module, not a test (the runner only runs *.sh).

The REPL scripts feed a python heredoc that imports it from this folder (cwd is the repo root):

    HOME="$TMPDIR_TEST" PYTHONPATH=tests/integration python3 - "$CORRAL_BIN_ABS" <<'PY'
    import sys
    from pty_drive import Pty
    p = Pty([sys.argv[1], "run", "tiny"])
    p.expect(">>> "); p.send("/bye\\r"); p.close()
    PY

Every wait is bounded: expect() fails (sys.exit with the tail of what came) when the pattern
does not arrive in time or the program closed the terminal first, close() fails when the
program does not end in time or ends with a nonzero status or a signal, and a program still
running when python exits (a failed expectation) is killed.
"""
import atexit
import os
import pty
import re
import select
import signal
import sys
import time

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_SPINNER = re.compile("[\u2800-\u28ff] *\r?")  # braille frames of the CLI's spinner


class Pty:
    def __init__(self, argv):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            try:
                os.execv(argv[0], argv)
            except OSError as e:  # shows up in the parent's timeout message
                os.write(2, ("exec %s: %s\n" % (argv[0], e)).encode())
            os._exit(127)
        self.buf = b""
        atexit.register(self._kill)

    def _kill(self):
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except OSError:
                pass
            self.pid = 0

    def send(self, s):
        os.write(self.fd, s.encode())

    def expect(self, pat, timeout=20):
        """Reads until pat appears; returns everything up to and including it (the rest stays
        buffered for the next expect)."""
        end = time.time() + timeout
        while pat.encode() not in self.buf:
            left = end - time.time()
            if left <= 0:
                sys.exit("timeout waiting for %r; got %r" % (pat, self.buf[-400:]))
            r, _, _ = select.select([self.fd], [], [], left)
            if r:
                try:
                    data = os.read(self.fd, 65536)
                except OSError:  # EIO: the program closed the terminal
                    data = b""
                if not data:
                    sys.exit("the program ended while waiting for %r; got %r" % (pat, self.buf[-400:]))
                self.buf += data
        i = self.buf.index(pat.encode()) + len(pat)
        seen, self.buf = self.buf[:i], self.buf[i:]
        return seen.decode(errors="replace")

    def answer(self, prompt, ready=">>> "):
        """Sends one prompt line and returns the model's answer up to the next ready prompt,
        without the echo, terminal escapes, spinner frames and carriage returns."""
        self.send(prompt + "\r")
        got = self.expect(ready)
        got = _ANSI.sub("", got)
        got = _SPINNER.sub("", got).replace("\r", "")
        rest = got.split(prompt, 1)[-1]
        # A line sent before the line editor has taken the terminal (its prompt already out) is
        # echoed twice, by the terminal and then by the editor: drop the second echo too.
        if rest.lstrip("\n").startswith(prompt + "\n"):
            rest = rest.lstrip("\n")[len(prompt) :]
        return rest.replace(ready, "").strip()

    def close(self, timeout=20):
        """Waits for the program to end (after /bye, say), reading what it still writes; fails
        unless it exits with status 0."""
        end = time.time() + timeout
        while True:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                break
            if time.time() > end:
                sys.exit("the program did not end; last output %r" % self.buf[-400:])
            r, _, _ = select.select([self.fd], [], [], 0.1)
            if r:
                try:
                    self.buf += os.read(self.fd, 65536)
                except OSError:  # the terminal is closed; the exit comes next
                    time.sleep(0.05)
        self.pid = 0
        if os.WIFSIGNALED(status):
            sys.exit("the program was killed by signal %d" % os.WTERMSIG(status))
        if os.WEXITSTATUS(status) != 0:
            sys.exit("exit status %d" % os.WEXITSTATUS(status))
