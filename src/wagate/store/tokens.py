"""Instance tokens kept recoverable: sealed with AES-256-GCM under a key the operator controls.

Authentication compares SHA-256 digests (`repos.hash_token`); the sealed copy exists only so
that fetchInstances can show the token when AUTHENTICATION_EXPOSE_IN_FETCH_INSTANCES=true, and
event envelopes can carry it as `apikey`. The key is derived (HKDF-SHA256) from
WAGATE_TOKEN_KEY, or from the global API key when that is not set: an operator who changes
the key they were derived from can no longer read the tokens sealed before, and tokens created
before wagate kept them sealed were stored as digests only: such a token is shown as null
(authentication by token goes on working) until it is next used, when the gateway seals it
again under the current key.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = "v1:"
_NONCE = 12
_INFO = b"wagate instance tokens v1"


class TokenBox:
    """Seals and opens instance tokens with one key."""

    def __init__(self, secret: str) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
            secret.encode()
        )
        self._aead = AESGCM(key)

    def seal(self, token: str) -> str:
        """`v1:` + base64url(nonce + ciphertext + tag); a fresh nonce every time."""
        nonce = os.urandom(_NONCE)
        sealed = self._aead.encrypt(nonce, token.encode(), _INFO)
        return VERSION + base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, sealed: str | None) -> str | None:
        """The token, or None when there is none or it was sealed under another key."""
        if not sealed or not sealed.startswith(VERSION):
            return None
        try:
            raw = base64.urlsafe_b64decode(sealed[len(VERSION) :])
            return self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], _INFO).decode()
        except (InvalidTag, ValueError):
            return None
