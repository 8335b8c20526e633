"""The peer layer's small stateful parts: bans, the address book and its rate limit, the
node key and its handshake proof, address parsing."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from consensus.params import DEVNET, REGTEST
from p2p.addrbook import AddrBook, TokenBucket
from p2p.banlist import BanList, ip_subject, node_subject, parse_subject
from p2p.identity import NodeKey, verify_proof
from p2p.manager import network_name, parse_target
from p2p.messages import NetAddress


class FakeClock:
    def __init__(self, now: int = 1_000_000) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def test_ban_subjects_are_canonical() -> None:
    assert parse_subject("10.0.0.5") == "10.0.0.5/32"
    assert parse_subject("10.0.0.7/24") == "10.0.0.0/24"
    assert parse_subject("::1") == "::1/128"
    node = "node:" + "AB" * 32
    assert parse_subject(node) == node.lower()
    for bad in ("node:abc", "node:" + "zz" * 32, "not an ip", "10.0.0.0/33", ""):
        with pytest.raises(ValueError):
            parse_subject(bad)
    assert ip_subject("127.0.0.1") == "127.0.0.1/32"
    assert node_subject(bytes(32)) == "node:" + "00" * 32


def test_bans_match_ips_subnets_and_node_ids_and_expire(tmp_path: Path) -> None:
    clock = FakeClock()
    bans = BanList(tmp_path / "banlist.json", clock)
    bans.ban("10.0.0.5/32", clock.now + 100)
    bans.ban("192.168.0.0/16", clock.now + 200)
    bans.ban(node_subject(b"\x01" * 32), clock.now + 300)
    assert bans.ip_banned("10.0.0.5")
    assert not bans.ip_banned("10.0.0.6")
    assert bans.ip_banned("192.168.44.3")
    assert not bans.ip_banned("127.0.0.1")
    assert not bans.ip_banned("not-an-ip")
    assert bans.node_banned(b"\x01" * 32)
    assert not bans.node_banned(b"\x02" * 32)
    assert len(bans.entries()) == 3

    clock.now += 150  # the first ban expired
    assert not bans.ip_banned("10.0.0.5")
    assert [b.subject for b in bans.entries()] == ["192.168.0.0/16", node_subject(b"\x01" * 32)]
    assert bans.unban("192.168.0.0/16")
    assert not bans.unban("192.168.0.0/16")
    assert not bans.ip_banned("192.168.44.3")


def test_bans_persist_and_survive_a_bad_file(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "banlist.json"
    bans = BanList(path, clock)
    entry = bans.ban("1.2.3.4/32", clock.now + 60)
    data = json.loads(path.read_text())
    assert data["banned"] == [
        {"address": "1.2.3.4/32", "ban_created": entry.created, "banned_until": entry.until}
    ]
    again = BanList(path, clock)
    again.load()
    assert again.ip_banned("1.2.3.4")

    data["banned"].append({"address": "nonsense"})
    path.write_text(json.dumps(data))
    partial = BanList(path, clock)
    partial.load()
    assert len(partial) == 1

    path.write_text("{not json")
    broken = BanList(path, clock)
    broken.load()
    assert len(broken) == 0
    broken.clear()
    assert json.loads(path.read_text())["banned"] == []


def test_addrbook_is_bounded_and_persisted(tmp_path: Path) -> None:
    path = tmp_path / "peers.json"
    book = AddrBook(path, capacity=3)
    assert book.add(NetAddress(10, "10.0.0.1", 1))
    assert not book.add(NetAddress(50, "10.0.0.1", 1))  # known: only refreshed
    assert book.add(NetAddress(20, "10.0.0.2", 1))
    assert book.add(NetAddress(30, "10.0.0.3", 1))
    assert book.add(NetAddress(40, "10.0.0.4", 1))  # full: the oldest sighting goes
    assert len(book) == 3
    assert ("10.0.0.2", 1) not in book
    assert ("10.0.0.1", 1) in book
    assert {(a.host, a.time) for a in book.sample(10)} == {
        ("10.0.0.1", 50),
        ("10.0.0.3", 30),
        ("10.0.0.4", 40),
    }
    assert len(book.sample(2)) == 2
    book.save()
    loaded = AddrBook(path, capacity=3)
    loaded.load()
    assert len(loaded) == 3


def test_token_bucket_limits_address_gossip() -> None:
    bucket = TokenBucket(updated=100.0)
    assert bucket.take(100.0)  # one token to start with: a peer may announce itself
    assert not bucket.take(100.0)
    assert not bucket.take(105.0)  # 0.1 token per second
    assert bucket.take(110.0)
    bucket.grant(1000)  # our getaddr asked for up to 1,000
    taken = sum(bucket.take(110.0) for _ in range(1200))
    assert 999 <= taken <= 1000
    bucket.refill(1_000_000.0)
    assert bucket.tokens == bucket.capacity


def test_node_key_persists_privately_and_proves_its_id(tmp_path: Path) -> None:
    path = tmp_path / "nodekey"
    key = NodeKey.load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert NodeKey.load_or_create(path).node_id == key.node_id
    proof = key.prove(REGTEST.magic, 42)
    assert verify_proof(REGTEST.magic, 42, key.node_id, proof)
    assert not verify_proof(REGTEST.magic, 43, key.node_id, proof)  # another nonce
    assert not verify_proof(DEVNET.magic, 42, key.node_id, proof)  # another network
    other = NodeKey.generate()
    assert not verify_proof(REGTEST.magic, 42, other.node_id, proof)  # someone else's id
    assert not verify_proof(REGTEST.magic, 42, bytes(32), proof)
    path.write_bytes(b"short")
    with pytest.raises(ValueError):
        NodeKey.load_or_create(path)


def test_parse_target_and_network_names() -> None:
    assert parse_target("127.0.0.1:19444", 1) == ("127.0.0.1", 19444)
    assert parse_target("example.org", 19444) == ("example.org", 19444)
    assert parse_target("[::1]:8333", 1) == ("::1", 8333)
    assert parse_target("[::1]", 7) == ("::1", 7)
    assert parse_target("::1", 7) == ("::1", 7)
    for bad in ("", ":80", "host:0", "host:70000", "host:port", "[::1", "[::1]x"):
        with pytest.raises(ValueError):
            parse_target(bad, 1)
    assert network_name("127.0.0.1") == "not_publicly_routable"
    assert network_name("10.201.0.1") == "not_publicly_routable"
    assert network_name("8.8.8.8") == "ipv4"
    assert network_name("2001:4860::8888") == "ipv6"
