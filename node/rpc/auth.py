"""HTTP Basic authentication for the RPC server, as Bitcoin Core does it.

Default is a cookie: on start a random ``__cookie__:<64 hex>`` is written to
``<datadir>/<network>/.cookie`` (mode 0600, so only the user running the node can read it, and
local clients log in without configuration) and it is removed on shutdown. The alternative is a
fixed ``--rpc-user/--rpc-password``. Credentials are compared in constant time through keyed
digests, so neither the password's content nor its length leaks through timing.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import os
import secrets
from pathlib import Path

__all__ = ["COOKIE_USER", "WWW_AUTHENTICATE", "Authenticator", "read_cookie"]

COOKIE_USER = "__cookie__"
WWW_AUTHENTICATE = 'Basic realm="jsonrpc"'
_MAX_HEADER = 4096  # a Basic header for any sane credentials is far shorter
_MAX_ACCEPTED = 16  # distinct accepted headers remembered (a client sends one, always)


def read_cookie(path: str | os.PathLike[str]) -> tuple[str, str]:
    """(user, password) from a cookie file, for clients such as ``obol rpc``."""
    line = (Path(path).read_text(encoding="utf-8").splitlines() or [""])[0]
    user, sep, password = line.partition(":")
    if not sep:
        raise ValueError(f"malformed RPC cookie file {path}")
    return user, password


class Authenticator:
    """Checks ``Authorization`` headers against a cookie and/or a user/password pair.

    ``open()`` writes the cookie and ``close()`` removes it; ``RpcServer`` calls both from its
    ``start()``/``stop()`` so the file exists exactly while the server accepts requests.
    """

    def __init__(
        self,
        *,
        cookie_path: str | os.PathLike[str] | None = None,
        user: str | None = None,
        password: str | None = None,
    ) -> None:
        if (user is None) != (password is None):
            raise ValueError("rpc user and rpc password go together")
        if password == "":
            raise ValueError("the rpc password must not be empty")
        if cookie_path is None and password is None:
            raise ValueError("no RPC credentials: give a cookie path or a user and password")
        self._key = secrets.token_bytes(32)  # keys the digests; never leaves the process
        self._users: list[tuple[str, bytes]] = []
        # Headers already accepted, so a client's every request is not a base64 decode and
        # an HMAC (a fifth of the cost of a getblockcount); only valid headers get in, and
        # a lookup compares strings only when their salted hashes match.
        self._accepted: dict[str, str] = {}
        if user is not None and password is not None:
            self._users.append((user, self._digest(user, password)))
        self._cookie_path = Path(cookie_path) if cookie_path is not None else None
        self._cookie: str | None = None  # "__cookie__:<hex>" while written

    @classmethod
    def with_cookie(cls, path: str | os.PathLike[str]) -> Authenticator:
        return cls(cookie_path=path)

    @classmethod
    def with_password(cls, user: str, password: str) -> Authenticator:
        return cls(user=user, password=password)

    @property
    def cookie_path(self) -> Path | None:
        return self._cookie_path

    @property
    def cookie_credentials(self) -> tuple[str, str] | None:
        """(user, password) of the current cookie, for in-process clients and tests."""
        if self._cookie is None:
            return None
        user, _, password = self._cookie.partition(":")
        return user, password

    def open(self) -> None:
        """Write a fresh cookie: created 0600 under a temporary name, then renamed into place,
        so a reader never sees a partial file and no other user ever can read it."""
        if self._cookie_path is None or self._cookie is not None:
            return
        cookie = f"{COOKIE_USER}:{secrets.token_hex(32)}"
        tmp = self._cookie_path.with_name(self._cookie_path.name + ".tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()  # stale from a crash; O_EXCL below refuses to follow a planted symlink
        fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        try:
            os.fchmod(fd, 0o600)  # the umask can only narrow the mode, but be exact
            os.write(fd, cookie.encode("ascii"))
        finally:
            os.close(fd)
        os.replace(tmp, self._cookie_path)
        self._users.append((COOKIE_USER, self._digest(COOKIE_USER, cookie.partition(":")[2])))
        self._cookie = cookie
        self._accepted.clear()

    def close(self) -> None:
        """Remove the cookie we wrote (if it is still ours) and stop accepting it."""
        if self._cookie is None or self._cookie_path is None:
            return
        with contextlib.suppress(OSError):
            if self._cookie_path.read_text(encoding="ascii").strip() == self._cookie:
                self._cookie_path.unlink()
        secret = self._cookie.partition(":")[2]
        self._users.remove((COOKIE_USER, self._digest(COOKIE_USER, secret)))
        self._cookie = None
        self._accepted.clear()

    def check(self, authorization: str | None) -> str | None:
        """The user name if the ``Authorization`` header holds valid Basic credentials."""
        if authorization is not None:
            known = self._accepted.get(authorization)
            if known is not None:
                return known
        parsed = _parse_basic(authorization)
        if parsed is None:
            return None
        user, password = parsed
        digest = self._digest(user, password)
        matched = None
        for name, expected in self._users:  # no early exit: every entry is compared
            if hmac.compare_digest(digest, expected):
                matched = name
        if matched is not None and authorization is not None:
            if len(self._accepted) >= _MAX_ACCEPTED:
                self._accepted.clear()
            self._accepted[authorization] = matched
        return matched

    def _digest(self, user: str, password: str) -> bytes:
        # user and password are length-prefixed so "a:b" + "c" never collides with "a" + "b:c"
        data = b"".join(
            len(part).to_bytes(4, "big") + part for part in (user.encode(), password.encode())
        )
        return hmac.new(self._key, data, hashlib.sha256).digest()


def _parse_basic(header: str | None) -> tuple[str, str] | None:
    """(user, password) from ``Basic <base64(user:password)>``; None for anything malformed."""
    if header is None or len(header) > _MAX_HEADER:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        text = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):  # bad base64, or bytes that are not UTF-8
        return None
    user, sep, password = text.partition(":")
    return (user, password) if sep else None
