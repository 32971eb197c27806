"""An OAuth 2.0 authorization server's public side on 127.0.0.1, run in a thread of the test:
its metadata (OpenID Connect Discovery or RFC 8414) and its keys (JWKS), with keys made in the
test, and access tokens signed with them."""

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

AUDIENCE = "https://scim.example.com"


class Issuer:
    """Serve `{issuer}/.well-known/openid-configuration` (or RFC 8414's
    `/.well-known/oauth-authorization-server{path}` when `metadata` is "rfc8414") and
    `/keys`; count the requests per path in `hits`. `stop()` takes it down, and hangs up
    on connections kept alive."""

    path = "/oauth2/default"

    def __init__(self, metadata: str = "openid") -> None:
        self.metadata = metadata
        self.private_keys: dict[str, tuple[str, object]] = {}  # kid: (alg, private key)
        self.published: list[dict] = []
        self.hits: dict[str, int] = {}
        self.down = False
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                if issuer.down:  # hang up, also on a kept-alive connection
                    self.close_connection = True
                    return
                issuer.hits[self.path] = issuer.hits.get(self.path, 0) + 1
                document = issuer.document(self.path)
                content = json.dumps(document).encode() if document is not None else b"{}"
                self.send_response(200 if document is not None else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        # A short poll keeps stop() quick: shutdown() waits for the next poll.
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()

    @property
    def url(self) -> str:
        """The issuer identifier (`iss`)."""
        return f"http://127.0.0.1:{self.port}{self.path}"

    @property
    def jwks_uri(self) -> str:
        return f"http://127.0.0.1:{self.port}/keys"

    def document(self, path: str) -> dict | None:
        discovery = {
            "openid": f"{self.path}/.well-known/openid-configuration",
            "rfc8414": f"/.well-known/oauth-authorization-server{self.path}",
        }[self.metadata]
        if path == discovery:
            return {"issuer": self.url, "jwks_uri": self.jwks_uri, "token_endpoint": "unused"}
        if path == "/keys":
            return {"keys": self.published}
        return None

    def stop(self) -> None:
        self.down = True
        self.server.shutdown()
        self.server.server_close()

    def add_key(self, alg: str = "ES256", publish: bool = True) -> str:
        """Make a key pair for `alg` (ES256 or RS256), publish its public half; return its kid."""
        kid = uuid.uuid4().hex
        if alg == "RS256":
            private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            public = jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
        else:
            private = ec.generate_private_key(ec.SECP256R1())
            public = jwt.algorithms.ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
        self.private_keys[kid] = (alg, private)
        if publish:
            self.published.append({**public, "kid": kid, "use": "sig", "alg": alg})
        return kid

    def withdraw(self, kid: str) -> None:
        """Stop publishing key `kid` (the end of a rotation)."""
        self.published = [k for k in self.published if k["kid"] != kid]

    def token(self, kid: str | None = None, alg: str | None = None, **claims) -> str:
        """Return an access token signed with key `kid` (default: the first one): a client
        credentials token for AUDIENCE with scope `scim`, valid for an hour; `claims`
        override or, set to None, remove claims."""
        kid = kid or next(iter(self.private_keys))
        key_alg, private = self.private_keys[kid]
        now = int(time.time())
        payload = {
            "iss": self.url,
            "aud": AUDIENCE,
            "sub": "client-1",
            "cid": "client-1",
            "scp": ["scim"],
            "iat": now,
            "exp": now + 3600,
            "jti": uuid.uuid4().hex,
        }
        payload.update(claims)
        payload = {k: v for k, v in payload.items() if v is not None}
        return jwt.encode(payload, private, algorithm=alg or key_alg, headers={"kid": kid})
