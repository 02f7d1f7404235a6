"""Prediction service that the C interposer queries over a Unix stream socket.

Protocol: newline-delimited JSON (UTF-8). The client writes one JSON object per line and reads
exactly one line back per request, in order; a connection carries any number of requests and
several connections are served at once.

    {"op":"hello"}                 -> {"hardware":"h100","launch_latency_ns":5000,"sync_latency_ns":4000}
    {"op":"gemm","m":4096,...}     -> {"ns":123456}
    a request that cannot be answered -> {"error":"gemm.n: Field required"}

``op`` names the operation kind (kernel, gemm, attention, memcpy, memset, collective, host_fn);
the other fields are those of the matching model in ``predictors.ops``; fields it does not know
are ignored. An error names the offending field where there is one, and the connection stays open.

Manual use:  python -m predictors.server --gpu h100 --predictor roofline --socket /tmp/pred.sock
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import socketserver
import stat
import threading
from pathlib import Path
from types import TracebackType

from pydantic import ValidationError

from predictors.base import DEFAULT_SPEC, Predictor, create, host_costs
from predictors.catalog import load
from predictors.ops import OP_KINDS, parse_op

REPLY_CACHE_MAX = 1 << 20


class PredictorServer:
    """Serves ``predictor`` on the Unix socket ``path``: one thread accepts, one per connection."""

    def __init__(self, predictor: Predictor, path: str | os.PathLike[str]) -> None:
        self.predictor = predictor
        self.path = Path(path)
        host = host_costs(predictor)  # the figures the hardware file carries (predictors.base.native_config)
        self._hello = _line({
            "hardware": predictor.hardware.key,
            "launch_latency_ns": host.launch_latency_ns,
            "sync_latency_ns": host.sync_latency_ns,
        })
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        # request line -> reply line: the same operation recurs thousands of times per run (each
        # process of a run asks once; forks and new processes ask again)
        self._replies: dict[bytes, bytes] = {}

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError(f"already serving on {self.path}")
        _remove_stale_socket(self.path)
        self._server = _Server(str(self.path), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
            name=f"predictor-server {self.path}", daemon=True,
        )
        self._thread.start()

    def close(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._server.drop_connections()
        self._thread.join()
        self.path.unlink(missing_ok=True)
        self._server = self._thread = None

    def __enter__(self) -> PredictorServer:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def answer(self, request_line: bytes) -> bytes:
        """One request line in, one reply line (newline-terminated) out."""
        reply = self._replies.get(request_line)
        if reply is not None:
            return reply
        reply = self._answer(request_line)
        if reply.startswith(b'{"ns":'):
            if len(self._replies) >= REPLY_CACHE_MAX:
                self._replies.clear()
            self._replies[request_line] = reply
        return reply

    def _answer(self, request_line: bytes) -> bytes:
        try:
            request = json.loads(request_line)
        except ValueError as error:
            return _error(f"invalid JSON: {error}")
        if not isinstance(request, dict):
            return _error("a request must be a JSON object")
        kind = request.pop("op", None)
        if kind == "hello":
            return self._hello
        if kind is None:
            return _error("missing field 'op'")
        if kind not in OP_KINDS:
            return _error(f"unknown op {kind!r}; expected hello, {', '.join(OP_KINDS)}")
        request["kind"] = kind
        try:
            return b'{"ns":%d}\n' % self.predictor.duration_ns(parse_op(request))
        except ValidationError as error:
            return _error("; ".join(
                f"{'.'.join(map(str, detail['loc']))}: {detail['msg']}" for detail in error.errors()
            ))
        except ValueError as error:
            return _error(f"{kind}: {error}")
        except Exception as error:  # a predictor bug must still get one reply, or the client hangs
            return _error(f"{kind}: internal error: {error!r}")


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        owner = self.server.owner
        for line in self.rfile:
            if line.strip():
                self.wfile.write(owner.answer(line))


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    block_on_close = False  # close() hangs up on clients instead of waiting for them

    def __init__(self, path: str, owner: PredictorServer) -> None:
        self.owner = owner
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        super().__init__(path, _Handler)

    def process_request(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
        with self._lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: socket.socket) -> None:  # type: ignore[override]
        with self._lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already gone


def _line(reply: dict[str, object]) -> bytes:
    return json.dumps(reply, separators=(",", ":")).encode() + b"\n"


def _error(message: str) -> bytes:
    return _line({"error": message})


def _remove_stale_socket(path: Path) -> None:
    """A socket file left by a server that died is removed; a live server or another file is not."""
    if not path.exists():
        return
    if not stat.S_ISSOCK(path.stat().st_mode):
        raise FileExistsError(f"{path} exists and is not a socket")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except ConnectionRefusedError:
            path.unlink()
            return
    raise FileExistsError(f"a server is already listening on {path}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m predictors.server", description=__doc__.split("\n")[0])
    parser.add_argument("--gpu", default="h100", help="catalog key or alias (default h100)")
    parser.add_argument("--predictor", default=DEFAULT_SPEC,
                        help="default (profiled where a profile exists, else roofline), profiled, roofline or fixed:<duration>")
    parser.add_argument("--socket", required=True, help="Unix socket path to listen on")
    args = parser.parse_args(argv)
    predictor = create(args.predictor, load(args.gpu))
    # block the stop signals in every thread and wait for them here, so shutdown is orderly
    stop = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop)
    with PredictorServer(predictor, args.socket):
        print(f"serving {predictor.hardware.key} ({args.predictor}) on {args.socket}", flush=True)
        signal.sigwait(stop)


if __name__ == "__main__":
    main()
