"""``/`` and ``/static/<file>``: the dashboard and explorer, a single page shipped in the
package (``node/web/static``) with no build step and nothing fetched from elsewhere.

The files are read once at start-up into memory: there are few and small, and serving
only names from that table means no request path ever reaches the file system. Every
answer carries a strict Content-Security-Policy (scripts, styles and data only from this
server, the WebSocket only to it), so even a crafted string in chain data, a peer's user
agent say, could not run as script in the page.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from aiohttp import hdrs, web

STATIC_DIR = Path(__file__).parent / "static"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
_HOST = re.compile(r"[A-Za-z0-9.\-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")


def content_security_policy(host: str | None) -> str:
    """The page's policy; ``connect-src`` names this server's WebSocket origin explicitly,
    since not every browser lets ``'self'`` cover ws: URLs."""
    connect = "'self'"
    if host and _HOST.fullmatch(host):
        connect += f" ws://{host} wss://{host}"
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        f"connect-src {connect}; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


@dataclass(frozen=True, slots=True)
class _File:
    body: bytes
    content_type: str
    etag: str


class Dashboard:
    def __init__(self, static_dir: Path = STATIC_DIR) -> None:
        self._files: dict[str, _File] = {}
        for path in sorted(static_dir.iterdir()):
            content_type = CONTENT_TYPES.get(path.suffix)
            if path.is_file() and content_type is not None:
                body = path.read_bytes()
                etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
                self._files[path.name] = _File(body, content_type, etag)
        if "index.html" not in self._files:
            raise RuntimeError(f"the dashboard's index.html is missing from {static_dir}")

    async def index(self, request: web.Request) -> web.Response:
        return self._serve(request, self._files["index.html"])

    async def campaign(self, request: web.Request) -> web.Response:
        """``/campaign/<id>``: one page for every campaign; its script reads the id."""
        return self._serve(request, self._files["campaign.html"])

    async def fraud(self, request: web.Request) -> web.Response:
        """``/fraud``: the fraud signals of the last export."""
        return self._serve(request, self._files["fraud.html"])

    async def static(self, request: web.Request) -> web.Response:
        file = self._files.get(request.match_info["name"])
        if file is None:
            return web.Response(status=404, text="not found")
        return self._serve(request, file)

    def _serve(self, request: web.Request, file: _File) -> web.Response:
        headers = {
            hdrs.CONTENT_TYPE: file.content_type,
            hdrs.ETAG: file.etag,
            hdrs.CACHE_CONTROL: "no-cache",  # revalidate: a new node version may change them
            "Content-Security-Policy": content_security_policy(request.host),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY",
        }
        if request.headers.get(hdrs.IF_NONE_MATCH) == file.etag:
            return web.Response(status=304, headers=headers)
        return web.Response(body=file.body, headers=headers)
