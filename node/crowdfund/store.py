"""The creator's campaigns on disk: ``<netdir>/campaigns.json``, rewritten whole and
atomically (temporary file, fsync, rename, fsync of the directory) after every change, so
a kill -9 leaves the file as it was before or after the change, never half of it.

The file is small by construction: at most ``MAX_CAMPAIGNS`` campaigns of at most
``MAX_PLEDGES`` pledges, each pledge a few hundred bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..wallets.manager import write_atomic

FORMAT = "obol-campaigns"
VERSION = 1
MAX_CAMPAIGNS = 1000
MAX_PLEDGES = 100

VALID, DROPPED = "valid", "dropped"
OPEN, FUNDED, CLAIMED, FAILED, CANCELLED = "open", "funded", "claimed", "failed", "cancelled"


class StoreError(Exception):
    """The campaign file cannot be read."""


@dataclass(slots=True)
class PledgeEntry:
    id: str  # the pledge tx's txid (one per coin)
    psbt: str  # as posted
    coin: bytes  # outpoint key
    value: int
    amount: int
    time: int
    status: str = VALID
    reason: str = ""


@dataclass(slots=True)
class Campaign:
    id: str
    title: str
    description: str
    goal: int
    payee: bytes  # the goal output's lock
    deadline: int
    fee_rate: int
    created: int
    closed: str = ""  # "", CLAIMED or CANCELLED: the states set by the creator
    claim_txid: str = ""
    pledges: list[PledgeEntry] = field(default_factory=list)

    def valid(self) -> list[PledgeEntry]:
        return [p for p in self.pledges if p.status == VALID]

    @property
    def pledged(self) -> int:
        return sum(p.amount for p in self.valid())

    def state(self, height: int) -> str:
        """open until the valid pledges reach the goal (funded); failed past the deadline
        without the goal; claimed or cancelled once the creator did either."""
        if self.closed:
            return self.closed
        if self.pledged >= self.goal:
            return FUNDED
        return FAILED if height > self.deadline else OPEN

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "goal": self.goal,
            "payee": self.payee.hex(),
            "deadline": self.deadline,
            "fee_rate": self.fee_rate,
            "created": self.created,
            "closed": self.closed,
            "claim_txid": self.claim_txid,
            "pledges": [
                {
                    "id": p.id,
                    "psbt": p.psbt,
                    "coin": p.coin.hex(),
                    "value": p.value,
                    "amount": p.amount,
                    "time": p.time,
                    "status": p.status,
                    "reason": p.reason,
                }
                for p in self.pledges
            ],
        }

    @classmethod
    def from_json(cls, obj: dict) -> Campaign:
        return cls(
            id=str(obj["id"]),
            title=str(obj["title"]),
            description=str(obj["description"]),
            goal=int(obj["goal"]),
            payee=bytes.fromhex(obj["payee"]),
            deadline=int(obj["deadline"]),
            fee_rate=int(obj["fee_rate"]),
            created=int(obj["created"]),
            closed=str(obj["closed"]),
            claim_txid=str(obj["claim_txid"]),
            pledges=[
                PledgeEntry(
                    id=str(p["id"]),
                    psbt=str(p["psbt"]),
                    coin=bytes.fromhex(p["coin"]),
                    value=int(p["value"]),
                    amount=int(p["amount"]),
                    time=int(p["time"]),
                    status=str(p["status"]),
                    reason=str(p["reason"]),
                )
                for p in obj["pledges"]
            ],
        )


class CampaignStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, Campaign]:
        if not self.path.exists():
            return {}
        try:
            obj = json.loads(self.path.read_bytes())
            if obj.get("format") != FORMAT or obj.get("version") != VERSION:
                raise ValueError("not an obol campaign file of a known version")
            return {c["id"]: Campaign.from_json(c) for c in obj["campaigns"]}
        except (OSError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StoreError(f"the campaign file {self.path} is damaged ({exc})") from exc

    def save(self, campaigns: dict[str, Campaign]) -> None:
        obj = {
            "format": FORMAT,
            "version": VERSION,
            "campaigns": [c.to_json() for c in campaigns.values()],
        }
        write_atomic(self.path, json.dumps(obj, indent=1).encode())
