"""Banned peers, persisted in ``<datadir>/<network>/banlist.json`` (Core's file name).

A ban names either an IP subnet, as in Bitcoin Core (``"10.0.0.5/32"``, ``"10.0.0.0/24"``),
or a node id (``"node:<64 hex digits>"``). Core bans by IP; on a local network many nodes
share 127.0.0.1, and banning it for one bad peer would cut a node off from every other node
on the machine. So a misbehaving peer on a loopback address is banned by its node id (proved
in the handshake, see ``identity``), any other peer by its IP. A loopback peer that
misbehaves before proving an id is only disconnected: there is nothing safe to ban.

``setban`` takes either form. Entries expire by the node's clock (so ``setmocktime`` moves
them, as in Core); expired ones are swept on every read.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .jsonfile import read_json, write_json

log = logging.getLogger("obol.p2p.ban")

NODE_PREFIX = "node:"
DEFAULT_BAN_SECONDS = 24 * 60 * 60  # Core's DEFAULT_MISBEHAVING_BANTIME
MAX_BANS = 100_000

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_subject(text: str) -> str:
    """The canonical form of a ban subject; ValueError if it is neither form."""
    if not isinstance(text, str):
        raise ValueError("a ban subject is a string")
    if text.startswith(NODE_PREFIX):
        digits = text[len(NODE_PREFIX) :].lower()
        if len(digits) != 64 or any(c not in "0123456789abcdef" for c in digits):
            raise ValueError("a node id is 64 hex digits")
        return NODE_PREFIX + digits
    return str(ipaddress.ip_network(text.strip(), strict=False))


def node_subject(node_id: bytes) -> str:
    return NODE_PREFIX + node_id.hex()


def ip_subject(host: str) -> str:
    return str(ipaddress.ip_network(host, strict=False))


@dataclass(frozen=True, slots=True)
class Ban:
    subject: str
    created: int
    until: int


class BanList:
    """Bans by subject, with a lookup by IP (exact or inside a banned subnet) and by node id."""

    def __init__(self, path: Path, clock: Callable[[], int]) -> None:
        self.path = path
        self.clock = clock
        self._bans: dict[str, Ban] = {}
        self._subnets: dict[str, IPNetwork] = {}  # bans wider than one address

    # --- persistence ---------------------------------------------------------------------

    def load(self) -> None:
        """Read the file if there is one; unreadable entries are skipped with a warning."""
        data = read_json(self.path)
        entries = data.get("banned", []) if isinstance(data, dict) else []
        for item in entries[:MAX_BANS]:
            try:
                subject = parse_subject(item["address"])
                created, until = int(item["ban_created"]), int(item["banned_until"])
            except (KeyError, TypeError, ValueError):
                log.warning("ignoring a malformed entry in %s", self.path)
                continue
            self._put(Ban(subject, created, until))
        self._sweep()

    def save(self) -> None:
        """Write atomically (temp file, then rename): a crash never leaves half a file."""
        data = {
            "version": 1,
            "banned": [
                {"address": b.subject, "ban_created": b.created, "banned_until": b.until}
                for b in self._bans.values()
            ],
        }
        write_json(self.path, data)

    # --- changes ---------------------------------------------------------------------------

    def ban(self, subject: str, until: int) -> Ban:
        """Ban ``subject`` (canonical, see ``parse_subject``) until the clock reads ``until``."""
        if len(self._bans) >= MAX_BANS and subject not in self._bans:
            oldest = min(self._bans.values(), key=lambda b: b.until)
            self._remove(oldest.subject)
        entry = Ban(subject, self.clock(), until)
        self._put(entry)
        self.save()
        return entry

    def unban(self, subject: str) -> bool:
        if subject not in self._bans:
            return False
        self._remove(subject)
        self.save()
        return True

    def clear(self) -> None:
        self._bans.clear()
        self._subnets.clear()
        self.save()

    # --- queries ---------------------------------------------------------------------------

    def entries(self) -> list[Ban]:
        self._sweep()
        return sorted(self._bans.values(), key=lambda b: (b.created, b.subject))

    def is_banned(self, subject: str) -> bool:
        ban = self._bans.get(subject)
        return ban is not None and ban.until > self.clock()

    def ip_banned(self, host: str) -> bool:
        """Whether ``host`` is banned by its own entry or by a banned subnet around it."""
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return False
        if self.is_banned(f"{ip}/{ip.max_prefixlen}"):
            return True
        now = self.clock()
        return any(
            ip in net and self._bans[subject].until > now for subject, net in self._subnets.items()
        )

    def node_banned(self, node_id: bytes) -> bool:
        return self.is_banned(node_subject(node_id))

    def __len__(self) -> int:
        return len(self._bans)

    # --- internals -------------------------------------------------------------------------

    def _put(self, entry: Ban) -> None:
        self._bans[entry.subject] = entry
        if not entry.subject.startswith(NODE_PREFIX):
            net = ipaddress.ip_network(entry.subject)
            if net.num_addresses > 1:
                self._subnets[entry.subject] = net

    def _remove(self, subject: str) -> None:
        del self._bans[subject]
        self._subnets.pop(subject, None)

    def _sweep(self) -> None:
        now = self.clock()
        expired = [s for s, b in self._bans.items() if b.until <= now]
        for subject in expired:
            self._remove(subject)
        if expired:
            self.save()
