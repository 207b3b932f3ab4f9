"""A webhook receiver on loopback that verifies every delivery with the reference ``standardwebhooks`` library.

Usage::

    with WebhookReceiver() as receiver:          # listens on 127.0.0.1, a free port
        receiver.secret = secret                 # the whsec_ secret of the subscription
        receiver.respond(500, 500, 200)          # answers in this order, then repeats the last one
        ...
        receiver.wait_for(1, timeout=5)          # bounded wait for deliveries
        assert receiver.deliveries[0].verified
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError


@dataclass(frozen=True)
class Reply:
    """One scripted answer."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"


@dataclass
class ReceivedDelivery:
    """One request as the receiver saw it."""

    path: str
    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered
    payload: Any = None  # the verified JSON, when verification passed
    error: str | None = None  # why verification failed

    @property
    def verified(self) -> bool:
        return self.error is None and self.payload is not None

    @property
    def msg_id(self) -> str | None:
        return self.headers.get("webhook-id")


class WebhookReceiver:
    """A threaded HTTP server that records and verifies webhook requests; start/stop or use as a context."""

    def __init__(self, secret: str | None = None, host: str = "127.0.0.1") -> None:
        self.secret = secret
        self.deliveries: list[ReceivedDelivery] = []
        self._replies: list[Reply] = [Reply()]
        self._served = 0
        self._lock = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real receivers do
            # One buffered write per response and no Nagle: otherwise every answer waits ~40 ms for
            # a delayed ACK, and the receiver, not the sender, would be what a benchmark measures.
            wbufsize = 1 << 16
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                receiver._handle(self, body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # --- configuration -------------------------------------------------------------------------

    def respond(self, *replies: int | Reply) -> None:
        """Answer the next requests with these statuses or replies, in order; the last one repeats."""
        with self._lock:
            self._replies = [r if isinstance(r, Reply) else Reply(status=r) for r in replies] or [Reply()]
            self._served = 0

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/hook"

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> WebhookReceiver:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- inspection ----------------------------------------------------------------------------

    def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedDelivery]:
        """Wait (bounded) until ``count`` requests arrived; return them all."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.deliveries) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"expected {count} webhook requests, got {len(self.deliveries)}")
                self._lock.wait(left)
            return list(self.deliveries)

    def verified_payloads(self) -> list[Any]:
        return [d.payload for d in self.deliveries if d.verified]

    # --- internals -----------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        headers = {k.lower(): v for k, v in handler.headers.items()}
        payload, error = None, None
        if self.secret is None:
            error = "receiver has no secret"
        else:
            try:
                payload = Webhook(self.secret).verify(body, headers)
            except (WebhookVerificationError, ValueError) as exc:
                error = f"{type(exc).__name__}: {exc}"
        with self._lock:
            reply = self._replies[min(self._served, len(self._replies) - 1)]
            self._served += 1
            # Recorded before answering, so a sender that saw the answer also sees the record.
            self.deliveries.append(
                ReceivedDelivery(handler.path, headers, body, reply.status, payload=payload, error=error)
            )
            self._lock.notify_all()
        handler.send_response(reply.status)
        for name, value in reply.headers.items():
            handler.send_header(name, value)
        handler.send_header("content-length", str(len(reply.body)))
        handler.end_headers()
        handler.wfile.write(reply.body)
