"""A real HTTP receiver of webhooks on 127.0.0.1, run in a thread of the test."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """Record every POST (its headers and body) and answer with `status` (204 by default)
    after `delay` seconds; `stop()` and `start()` take it down and bring it back on the same
    port."""

    def __init__(self) -> None:
        self.received: list[tuple[dict, bytes]] = []
        self.status = 204
        self.answer = b""
        self.delay = 0.0
        self.lock = threading.Lock()
        self.port = 0
        self.server = None
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real receivers do

            def do_POST(self):
                length = int(self.headers["Content-Length"])
                content = self.rfile.read(length)
                if len(content) < length:  # the sender died mid-body: nothing was delivered
                    self.close_connection = True
                    return
                if receiver.delay:
                    time.sleep(receiver.delay)
                status = receiver.status
                if 200 <= status < 300:
                    with receiver.lock:
                        receiver.received.append((dict(self.headers), content))
                self.send_response(status)
                self.send_header("Content-Length", str(len(receiver.answer)))
                self.end_headers()
                self.wfile.write(receiver.answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        # A client that hangs up before reading the whole answer is no error of the test's.
        self.server.handle_error = lambda request, address: None
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def events(self) -> list[dict]:
        """Return the bodies received so far, parsed, in the order they arrived."""
        with self.lock:
            return [json.loads(content) for _, content in self.received]

    def wait_for(self, condition, timeout: float = 20) -> None:
        """Wait until `condition()` holds; fail after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; received {len(self.received)} events")
            time.sleep(0.02)
