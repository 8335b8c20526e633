"""The machine's own ceilings: the libraries obol calls, driven by the tightest Python loop.

Each function runs for a fixed wall time and returns operations per second, so one sample
costs the same on a fast or a slow machine. ``*_allcores`` runs one copy per core at once
in worker processes, already started, so start-up is never measured.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import multiprocessing
import os
import random
import tempfile
import time

import nacl.bindings
import plyvel
from coincurve._libsecp256k1 import ffi, lib
from coincurve.context import GLOBAL_CONTEXT

from consensus.signatures import SECP256K1
from node.chain.tablereads import read_tables_without_mmap

_BATCH = 50  # operations between clock reads


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def ed25519_verify_rate(seconds: float) -> float:
    """libsodium's crypto_sign_open through PyNaCl, as the Ed25519 scheme calls it."""
    pk, sk = nacl.bindings.crypto_sign_seed_keypair(hashlib.sha256(b"ceiling").digest())
    msg = hashlib.sha256(b"msg").digest()
    signed = nacl.bindings.crypto_sign(msg, sk)
    open_ = nacl.bindings.crypto_sign_open
    count = 0
    start = time.perf_counter()
    end = start + seconds
    while True:
        for _ in range(_BATCH):
            open_(signed, pk)
        count += _BATCH
        now = time.perf_counter()
        if now >= end:
            return count / (now - start)


def secp256k1_verify_rate(seconds: float) -> float:
    """libsecp256k1 through coincurve's bindings: parse the compressed key and the compact
    signature, verify the digest (parsing included, as validation must do it)."""
    secret = hashlib.sha256(b"ceiling").digest()
    pubkey = SECP256K1.pubkey_from_secret(secret)
    msg = hashlib.sha256(b"msg").digest()
    sig = SECP256K1.sign(secret, msg)
    ctx = GLOBAL_CONTEXT.ctx
    point = ffi.new("secp256k1_pubkey *")
    parsed = ffi.new("secp256k1_ecdsa_signature *")
    parse_key = lib.secp256k1_ec_pubkey_parse
    parse_sig = lib.secp256k1_ecdsa_signature_parse_compact
    verify = lib.secp256k1_ecdsa_verify
    count = 0
    start = time.perf_counter()
    end = start + seconds
    while True:
        for _ in range(_BATCH):
            parse_key(ctx, point, pubkey, 33)
            parse_sig(ctx, parsed, sig)
            verify(ctx, parsed, msg, point)
        count += _BATCH
        now = time.perf_counter()
        if now >= end:
            return count / (now - start)


def sha256d_rate(seconds: float) -> float:
    """Double SHA-256 of an 80-byte header through hashlib, the way a block hash is made."""
    header = bytes(range(80))
    sha = hashlib.sha256
    count = 0
    start = time.perf_counter()
    end = start + seconds
    while True:
        for _ in range(2000):
            sha(sha(header).digest()).digest()
        count += 2000
        now = time.perf_counter()
        if now >= end:
            return count / (now - start)


class LevelDBCeiling:
    """Puts in write batches and random gets, with keys and values shaped like coins, in a
    LevelDB opened without compression and read with pread, as the node's (where this
    process opened no database before: LevelDB fixes how it reads tables at the first)."""

    def __init__(self) -> None:
        read_tables_without_mmap()
        self._dir = tempfile.TemporaryDirectory(prefix="obol-bench-ldb-")
        self._db = plyvel.DB(self._dir.name, create_if_missing=True, compression=None)
        rng = random.Random(7)
        self._keys = [b"c" + rng.randbytes(36) for _ in range(100_000)]
        self._value = rng.randbytes(40)

    def batch_puts(self, batch_size: int = 10_000) -> float:
        keys, value = self._keys, self._value
        start = time.perf_counter()
        for i in range(0, len(keys), batch_size):
            with self._db.write_batch(transaction=True) as wb:
                put = wb.put
                for key in keys[i : i + batch_size]:
                    put(key, value)
        return len(keys) / (time.perf_counter() - start)

    def synced_writes(self, count: int = 300) -> float:
        """One-coin batches written with sync, as the node writes every block and every
        accepted tx: what the disk's flush costs, the floor under both."""
        keys, value = self._keys, self._value
        start = time.perf_counter()
        for key in keys[:count]:
            with self._db.write_batch(transaction=True, sync=True) as wb:
                wb.put(key, value)
        return count / (time.perf_counter() - start)

    def random_gets(self, count: int = 50_000) -> float:
        keys = random.sample(self._keys, count)
        get = self._db.get
        start = time.perf_counter()
        for key in keys:
            get(key)
        return count / (time.perf_counter() - start)

    def close(self) -> None:
        self._db.close()
        self._dir.cleanup()


def _noop() -> None:
    """Submitted once per worker so the pool has launched every process before timing."""


class AllCores:
    """One worker process per core, launched once, running a ceiling loop in parallel."""

    def __init__(self) -> None:
        self.cores = cores()
        ctx = multiprocessing.get_context("forkserver")
        self._pool = concurrent.futures.ProcessPoolExecutor(self.cores, mp_context=ctx)
        for f in [self._pool.submit(_noop) for _ in range(self.cores)]:
            f.result()

    def ed25519_verify_rate(self, seconds: float) -> float:
        futures = [self._pool.submit(ed25519_verify_rate, seconds) for _ in range(self.cores)]
        return sum(f.result() for f in futures)

    def secp256k1_verify_rate(self, seconds: float) -> float:
        futures = [self._pool.submit(secp256k1_verify_rate, seconds) for _ in range(self.cores)]
        return sum(f.result() for f in futures)

    def close(self) -> None:
        self._pool.shutdown()
