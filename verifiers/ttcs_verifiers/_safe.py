"""Safe symbolic comparison of hostile answer strings: a pre-screen and a sympy subprocess.

Model output is hostile input. Two defences stand between it and sympy:

1. `screen` refuses, in microseconds and without sympy, what is known to hang or blow up
   a symbolic parser: very long strings, deep nesting, exponent towers, chained or huge
   factorials, huge integers, control characters.
2. `SymbolicWorker` runs math-verify's ``parse``/``verify`` (LaTeX -> sympy through
   latex2sympy2_extended, which builds expressions from a grammar and never evaluates
   Python) in a separate process. The caller waits for the reply with a deadline and
   kills the process when it passes. math-verify's own timeout uses ``signal.alarm``,
   which only works in the main thread of the main interpreter; a subprocess with a
   deadline works from any thread, and a hard kill also stops C-level loops that a
   signal cannot interrupt.

The worker process is `ttcs_verifiers._worker`; it speaks JSON lines over its
stdin/stdout and exits when its stdin closes, so it never outlives its parent.
"""

from __future__ import annotations

import json
import logging
import os
import re
import selectors
import subprocess
import sys
import threading
import time

logger = logging.getLogger(__name__)

MAX_SYMBOLIC_CHARS = 1000
MAX_NESTING = 32
MAX_DIGITS = 200
MAX_EXPONENT_DIGITS = 4
MAX_FACTORIAL_DIGITS = 4
STARTUP_TIMEOUT_S = 120.0  # importing sympy on a busy 2-core machine can take several seconds

_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_DIGITS_RE = re.compile(rf"\d{{{MAX_DIGITS + 1},}}")
_CHAINED_FACTORIAL_RE = re.compile(r"!\s*[{}()]*\s*!")
_HUGE_FACTORIAL_RE = re.compile(rf"\d{{{MAX_FACTORIAL_DIGITS + 1},}}\s*!")
_LONG_EXPONENT_RE = re.compile(rf"\d{{{MAX_EXPONENT_DIGITS + 1},}}")
_GROUP_FACTORIAL_RE = re.compile(r"[)}\]]\s*!")
_OPENERS, _CLOSERS = "{([", "})]"


def screen(answer: str) -> str | None:
    """Why `answer` must not reach a symbolic parser, or None when it may.

    Example:
        >>> screen("10^{10^{10^{10}}}")
        'exponent tower'
        >>> screen(r"\\frac{1}{2}") is None
        True
    """
    if len(answer) > MAX_SYMBOLIC_CHARS:
        return f"longer than {MAX_SYMBOLIC_CHARS} characters"
    if _CONTROL_RE.search(answer):
        return "control characters"
    if _DIGITS_RE.search(answer):
        return f"an integer with more than {MAX_DIGITS} digits"
    if _nesting_depth(answer) > MAX_NESTING:
        return f"nesting deeper than {MAX_NESTING}"
    if _CHAINED_FACTORIAL_RE.search(answer) or _HUGE_FACTORIAL_RE.search(answer):
        return "chained or huge factorial"
    if _GROUP_FACTORIAL_RE.search(answer) and ("^" in answer or answer.count("!") > 1):
        return "factorial of a group next to powers or other factorials"
    return _exponent_problem(answer)


def _nesting_depth(answer: str) -> int:
    depth = deepest = 0
    for char in answer:
        if char in _OPENERS:
            depth += 1
            deepest = max(deepest, depth)
        elif char in _CLOSERS:
            depth = max(depth - 1, 0)
    return deepest


def _exponent_problem(answer: str) -> str | None:
    """Refuse numeric towers (``10^{10^{10}}``, ``2^3^4``) and exponents with many digits."""
    start = answer.find("^")
    while start != -1:
        exponent, end = _exponent_at(answer, start + 1)
        # `e^{x^2}` stays symbolic and is harmless; `10^{10^{10}}` makes sympy build the number.
        numeric = not re.search(r"[A-Za-z]", re.sub(r"\\[A-Za-z]+", "", exponent))
        if numeric and ("^" in exponent or answer[end : end + 1] == "^"):
            return "exponent tower"
        if _LONG_EXPONENT_RE.search(exponent.replace(",", "")):
            return f"an exponent with more than {MAX_EXPONENT_DIGITS} digits"
        start = answer.find("^", start + 1)
    return None


def _exponent_at(answer: str, index: int) -> tuple[str, int]:
    """The exponent that starts at `index` (a braced group or one token) and where it ends."""
    while index < len(answer) and answer[index] == " ":
        index += 1
    if answer[index : index + 1] == "{":
        depth = 0
        for end in range(index, len(answer)):
            depth += {"{": 1, "}": -1}.get(answer[end], 0)
            if depth == 0:
                return answer[index + 1 : end], end + 1
        return answer[index:], len(answer)
    token = re.match(r"\d+|\\[A-Za-z]+|.", answer[index:])
    text = token.group() if token else ""
    return text, index + len(text)


class SymbolicWorker:
    """Sympy subprocesses shared by the verifiers of one Python process.

    `request` sends one request to the active process and waits at most `timeout`
    seconds for the reply; past the deadline it kills that process and returns None.
    A spare process is started in the background whenever the active one becomes ready,
    and takes over after a kill, so a timeout normally costs the next caller nothing.
    Thread-safe; one request at a time. Waiting for a process to start (importing sympy,
    ~0.5-3 s: the very first time, or when two kills come faster than a spare starts) is
    not counted against a request's timeout; `warm_up` does the first start ahead of time.
    """

    def __init__(self, startup_timeout: float = STARTUP_TIMEOUT_S) -> None:
        self.startup_timeout = startup_timeout
        self.reset_after_fork()

    def reset_after_fork(self) -> None:
        """Forget the processes (in a forked child their pipes belong to the parent)."""
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._spare: subprocess.Popen | None = None
        self._ready = False
        self._buffer = b""
        self._next_id = 0

    @property
    def ready(self) -> bool:
        """Whether a started process is waiting for requests (no start-up wait before the next one)."""
        return self._ready and self._proc is not None and self._proc.poll() is None

    def warm_up(self) -> bool:
        """Start the subprocess and wait until it answers; True when it is ready."""
        with self._lock:
            return self._ensure_ready()

    def request(self, op: str, timeout: float, **fields: object) -> dict | None:
        """Send one request (see `ttcs_verifiers._worker`) and return the reply.

        Returns None when no reply came within `timeout` seconds (the process is then
        killed and the spare takes over) or when the worker reports an error.
        """
        if timeout <= 0:
            logger.debug("no time left for %r", op)
            return None
        lock_wait = timeout if self._ready else timeout + self.startup_timeout
        if not self._lock.acquire(timeout=lock_wait):
            logger.debug("symbolic worker busy for %.1fs; giving up on %r", lock_wait, op)
            return None
        try:
            if not self._ensure_ready():
                return None
            self._next_id += 1
            request = {"id": self._next_id, "op": op, "timeout": timeout, **fields}
            reply = self._ask(request, time.monotonic() + timeout)
            if reply is None or reply.get("id") != request["id"]:
                logger.debug("no reply to %r within %.2fs; killing the worker", op, timeout)
                self._kill_active()
                return None
            if reply.get("error"):
                logger.debug("worker failed on %r: %s", op, reply["error"])
                return None
            return reply
        finally:
            self._lock.release()

    def close(self) -> None:
        """Stop the subprocesses (they also stop by themselves when this process exits)."""
        with self._lock:
            self._kill_active()
            _kill(self._spare)
            self._spare = None

    def _ensure_ready(self) -> bool:
        if self._proc is None or self._proc.poll() is not None:
            spare, self._spare = self._spare, None
            alive = spare is not None and spare.poll() is None
            self._proc, self._ready, self._buffer = spare if alive else _spawn(), False, b""
        if not self._ready:
            reply = self._ask(None, time.monotonic() + self.startup_timeout)
            self._ready = bool(reply and reply.get("ready"))
            if not self._ready:
                # Not a property of any answer: every symbolic comparison fails until this is fixed.
                logger.warning("the sympy worker (python -m ttcs_verifiers._worker) did not start")
                self._kill_active()
                return False
        if self._spare is None or self._spare.poll() is not None:
            self._spare = _spawn()  # starts in the background; takes over after a timeout
        return True

    def _kill_active(self) -> None:
        proc, self._proc, self._ready, self._buffer = self._proc, None, False, b""
        _kill(proc)

    def _ask(self, request: dict | None, deadline: float) -> dict | None:
        """Send `request` (None: just read) and read the reply line before `deadline`."""
        proc = self._proc
        assert proc is not None and proc.stdin is not None and proc.stdout is not None
        try:
            if request is not None:
                proc.stdin.write(json.dumps(request).encode() + b"\n")
                proc.stdin.flush()
            line = self._read_line(proc.stdout.fileno(), deadline)
            return json.loads(line) if line is not None else None
        except (OSError, ValueError) as error:
            logger.debug("symbolic worker pipe failed: %r", error)
            return None

    def _read_line(self, fd: int, deadline: float) -> bytes | None:
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not selector.select(remaining):
                    return None
                chunk = os.read(fd, 1 << 16)
                if not chunk:  # the worker died
                    return None
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line


def _spawn() -> subprocess.Popen:
    """Start ``python -m ttcs_verifiers._worker`` (not multiprocessing: nothing re-imports ``__main__``)."""
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    return subprocess.Popen(
        [sys.executable, "-m", "ttcs_verifiers._worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=package_root,  # `-m` puts the working directory first on sys.path: keep strangers' files off it
        close_fds=True,
    )


def _kill(proc: subprocess.Popen | None) -> None:
    if proc is None:
        return
    proc.kill()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        logger.debug("symbolic worker %d did not die within 5s", proc.pid)
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            stream.close()
