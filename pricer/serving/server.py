"""`pricer serve`: the champion behind an HTTP endpoint on loopback, loaded once and loaded again
when a promotion moves the champion pointer.

    POST /predict  {"texts": ["...", ...]}  ->  {"prices": [12.5, null, ...], "champion": {...}}
    GET  /health                            ->  {"champion": {...}}

Standard library only: one process, requests answered one at a time (a 2-core CPU prices faster
one batch at a time than several side by side), each request's texts priced in one batch call.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

# Bodies past this are refused before they are read: a megabyte is thousands of descriptions.
MAX_BODY_BYTES = 1 << 20
REQUEST_TIMEOUT_S = 30


@dataclass(frozen=True)
class LoadedChampion:
    about: dict  # run, epoch, repo and revision, as the pointer names them
    price: Callable[[list[str]], list[float | None]]


class ChampionHolder:
    """The loaded champion, loaded again when the pointer file's bytes change. A new champion that
    fails to load leaves the old one answering, and `warn` says why."""

    def __init__(
        self,
        pointer: Path,
        load: Callable[[], LoadedChampion],
        warn: Callable[[str], None],
    ):
        self._pointer, self._load, self._warn = pointer, load, warn
        self._lock = threading.Lock()
        self._seen: bytes | None = None
        self._loaded: LoadedChampion | None = None

    def current(self) -> LoadedChampion:
        with self._lock:
            now = self._pointer.read_bytes() if self._pointer.is_file() else None
            if self._loaded is None or now != self._seen:
                try:
                    loaded = self._load()
                except Exception as error:  # any loader's: the old champion still answers
                    if self._loaded is None:
                        raise
                    self._warn(f"still serving {self._loaded.about}: the new one failed ({error})")
                    self._seen = now  # tried once; the next promotion is tried again
                else:
                    self._loaded, self._seen = loaded, now
            return self._loaded


def serve(holder: ChampionHolder, host: str, port: int, ready: Callable[[str], None]) -> None:
    """Answer until interrupted; `ready` is told the address once the champion is loaded."""
    holder.current()  # load before listening: the first request is not the slow one
    server = HTTPServer((host, port), _handler(holder))
    ready(f"http://{server.server_address[0]}:{server.server_address[1]}")
    try:
        server.serve_forever()
    finally:
        server.server_close()


def _handler(holder: ChampionHolder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = REQUEST_TIMEOUT_S  # a client that stops sending does not hold the server

        def do_GET(self) -> None:
            if self.path != "/health":
                return self._reply(404, {"error": f"no such path {self.path}; try /health"})
            try:
                self._reply(200, {"champion": holder.current().about})
            except Exception as error:  # nothing loaded: say why, and keep listening
                self._reply(503, {"error": str(error)})

        def do_POST(self) -> None:
            if self.path != "/predict":
                return self._reply(404, {"error": f"no such path {self.path}; try /predict"})
            try:
                texts = _texts(self._body())
            except ValueError as error:
                return self._reply(400, {"error": str(error)})
            try:
                champion = holder.current()
            except Exception as error:  # nothing loaded: say why, and keep listening
                return self._reply(503, {"error": str(error)})
            try:
                prices = champion.price(texts)
            except Exception as error:  # the server answers, and the next request is priced
                return self._reply(500, {"error": f"{type(error).__name__}: {error}"})
            self._reply(200, {"prices": prices, "champion": champion.about})

        def _body(self) -> bytes:
            try:
                length = int(self.headers.get("Content-Length") or "")
            except ValueError:
                raise ValueError("send the body with its Content-Length") from None
            if not 0 <= length <= MAX_BODY_BYTES:
                raise ValueError(f"the body is {length} bytes; from 0 to {MAX_BODY_BYTES}")
            return self.rfile.read(length)

        def _reply(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args) -> None:
            pass  # a line per request would drown the one line that says where it listens

    return Handler


def _texts(body: bytes) -> list[str]:
    try:
        request = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"the body is not JSON ({error})") from None
    texts = request.get("texts") if isinstance(request, dict) else None
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise ValueError('send {"texts": ["a description", ...]}: a list of one string or more')
    if not all(t.strip() for t in texts):
        raise ValueError("a description is empty")
    return texts
