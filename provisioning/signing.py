"""Webhook signatures as the Standard Webhooks specification defines them, and the storage of
the endpoints' signing secrets.

A secret is `whsec_` and the base64 of 32 random bytes; a message is signed by an HMAC-SHA256
of `{webhook-id}.{webhook-timestamp}.{body}` under the secret's bytes, sent as
`webhook-signature: v1,<base64>`, so any Standard Webhooks library can verify it.

Unlike a token, a signing secret cannot be kept as a hash: the worker needs it to sign. It is
stored encrypted (Fernet: AES-128-CBC with an HMAC) under a key derived from SECRET_KEY, so
the database alone, a dump or a replica, does not reveal it; secrets stored under a key in
SECRET_KEY_FALLBACKS are still read, so SECRET_KEY can be rotated.
"""

import base64
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings
from django.utils.crypto import salted_hmac

SECRET_PREFIX = "whsec_"
KEY_SALT = "provisioning.signing.webhook-secret"


def generate_secret() -> str:
    """Return a new random signing secret, in the Standard Webhooks `whsec_` form."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """Return the `webhook-signature` header's value for this message."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def _fernet() -> MultiFernet:
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet(
        [
            Fernet(
                base64.urlsafe_b64encode(
                    salted_hmac(KEY_SALT, "", secret=key, algorithm="sha256").digest()
                )
            )
            for key in keys
        ]
    )


def encrypt(secret: str) -> str:
    """Return `secret` encrypted for storage."""
    return _fernet().encrypt(secret.encode()).decode()


def decrypt(stored: str) -> str:
    """Return the secret that `encrypt` stored; `cryptography.fernet.InvalidToken` when no key
    of SECRET_KEY and SECRET_KEY_FALLBACKS opens it."""
    return _fernet().decrypt(stored.encode()).decode()
