"""The node's identity on the network: a persistent Ed25519 key, and the handshake proof.

The public key is the node id sent in ``version``. Each side's ``verack`` signs the other
side's fresh nonce, so a node id in a completed handshake is one its sender holds the key
of: self-connections and duplicate connections are recognised by id, and a ban of a node
id (how loopback peers are banned, see ``banlist``) cannot be pinned on someone else.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from consensus.errors import RuleError
from consensus.signatures import ED25519

SEED_SIZE = 32
_DOMAIN = b"obol/p2p/verack"


def _transcript(magic: bytes, nonce: int, signer_id: bytes) -> bytes:
    return _DOMAIN + magic + nonce.to_bytes(8, "little") + signer_id


class NodeKey:
    """The node's signing key; ``node_id`` is its public half."""

    def __init__(self, seed: bytes) -> None:
        if len(seed) != SEED_SIZE:
            raise ValueError("a node key seed is 32 bytes")
        self._seed = seed
        self.node_id = ED25519.pubkey_from_secret(seed)

    @classmethod
    def generate(cls) -> NodeKey:
        return cls(secrets.token_bytes(SEED_SIZE))

    @classmethod
    def load_or_create(cls, path: Path) -> NodeKey:
        """The key stored at ``path`` (raw 32-byte seed, mode 0600), created on first use so
        the node keeps its id across restarts."""
        try:
            seed = path.read_bytes()
        except FileNotFoundError:
            key = cls.generate()
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(key._seed)
            os.replace(tmp, path)
            return key
        if len(seed) != SEED_SIZE:
            raise ValueError(f"{path} is not a node key (expected {SEED_SIZE} bytes)")
        return cls(seed)

    def prove(self, magic: bytes, peer_nonce: int) -> bytes:
        """The verack signature answering a peer whose version carried ``peer_nonce``."""
        return ED25519.sign(self._seed, _transcript(magic, peer_nonce, self.node_id))


def verify_proof(magic: bytes, our_nonce: int, peer_id: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is ``peer_id``'s answer to the nonce of our version."""
    try:
        ED25519.verify(peer_id, signature, _transcript(magic, our_nonce, peer_id))
    except RuleError:
        return False
    return True
