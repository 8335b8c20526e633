"""The text form of policies, and the sanity rules that standardness and the parser add.

``pk(ed25519:HEX)``, ``pk(secp256k1:HEX)``, ``thresh(k,X,...)``, ``and(X,...)`` (k of k),
``or(X,...)`` (1 of n), ``after(N)``, ``sha256(HEX)``; whitespace between tokens is
ignored. ``format_policy`` prints the one form ``parse_policy`` reads back to the same
policy: no spaces, ``and``/``or`` where a threshold of two or more subs is one.

Consensus takes any policy within the limits. Like Miniscript's sanity rules, standardness
(the mempool) and this parser also refuse a policy in which one satisfaction could use a
key twice, and one with a way to spend that needs no signature (a time lock alone, or a
bare hash lock that whoever sees the preimage in the mempool could use to take the
coins): ``sanity_problem``.
"""

from __future__ import annotations

from .errors import RuleError
from .params import LOCKTIME_THRESHOLD
from .policy import (
    MAX_POLICY_DEPTH,
    After,
    Key,
    Policy,
    Sha256,
    Thresh,
    encode_policy,
    iter_nodes,
    policy_keys,
)
from .signatures import REGISTRY

_SCHEMES = {scheme.name: scheme for scheme in REGISTRY.values()}
_HEX = frozenset("0123456789abcdefABCDEF")


class PolicySyntaxError(ValueError):
    """Text that is no valid (or no sane) policy; ``position`` is where the problem is."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} at position {position}")
        self.message = message
        self.position = position


# --- printing ---------------------------------------------------------------------------


def format_policy(policy: Policy) -> str:
    if type(policy) is Key:
        return f"pk({REGISTRY[policy.key_type].name}:{policy.pubkey.hex()})"
    if type(policy) is After:
        return f"after({policy.n})"
    if type(policy) is Sha256:
        return f"sha256({policy.hash.hex()})"
    subs = ",".join(format_policy(s) for s in policy.subs)
    n = len(policy.subs)
    if n >= 2 and policy.k == n:
        return f"and({subs})"
    if n >= 2 and policy.k == 1:
        return f"or({subs})"
    return f"thresh({policy.k},{subs})"


# --- parsing ----------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, message: str, position: int | None = None) -> PolicySyntaxError:
        return PolicySyntaxError(message, self.pos if position is None else position)

    def skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def expect(self, char: str) -> None:
        self.skip()
        if not self.text.startswith(char, self.pos):
            found = repr(self.text[self.pos]) if self.pos < len(self.text) else "the end"
            raise self.fail(f"expected {char!r}, found {found}")
        self.pos += 1

    def word(self, allowed: frozenset[str] | None = None) -> tuple[str, int]:
        self.skip()
        start = self.pos
        while self.pos < len(self.text) and (
            self.text[self.pos].isalnum() or self.text[self.pos] == "_"
        ):
            self.pos += 1
        if start == self.pos:
            raise self.fail("expected a name or a number")
        return self.text[start : self.pos], start

    def number(self, low: int, high: int, what: str) -> int:
        text, start = self.word()
        if not text.isdigit() or (len(text) > 1 and text[0] == "0"):
            raise self.fail(f"{what} must be a decimal number", start)
        value = int(text)
        if not low <= value <= high:
            raise self.fail(f"{what} must be between {low} and {high}", start)
        return value

    def hex_bytes(self, size: int, what: str) -> bytes:
        text, start = self.word()
        if len(text) != 2 * size or not set(text) <= _HEX:
            raise self.fail(f"{what} must be {size} bytes in hex", start)
        return bytes.fromhex(text)

    def node(self, depth: int) -> Policy:
        name, start = self.word()
        self.expect("(")
        if name == "pk":
            scheme_name, at = self.word()
            scheme = _SCHEMES.get(scheme_name)
            if scheme is None:
                raise self.fail("a key is ed25519:HEX or secp256k1:HEX", at)
            self.expect(":")
            result: Policy = Key(scheme.key_type, self.hex_bytes(scheme.pubkey_len, "the key"))
        elif name == "after":
            result = After(self.number(1, 0xFFFF_FFFF, "after's locktime"))
        elif name == "sha256":
            result = Sha256(self.hex_bytes(32, "the hash"))
        elif name in ("thresh", "and", "or"):
            result = self.threshold(name, start, depth)
        else:
            raise self.fail(f"unknown fragment {name!r}", start)
        self.expect(")")
        return result

    def threshold(self, name: str, start: int, depth: int) -> Thresh:
        if depth >= MAX_POLICY_DEPTH:
            raise self.fail(f"more than {MAX_POLICY_DEPTH} nested thresholds", start)
        k = self.number(1, 20, "the threshold") if name == "thresh" else 0
        subs: list[Policy] = []
        if name != "thresh":
            subs.append(self.node(depth + 1))
        while True:
            self.skip()
            if not self.text.startswith(",", self.pos):
                break
            self.pos += 1
            subs.append(self.node(depth + 1))
        n = len(subs)
        if name == "and":
            k = n
        elif name == "or":
            k = 1
        if not 1 <= k <= n <= 20:
            raise self.fail(f"{name} needs 1 <= k <= n <= 20 subs, has k={k}, n={n}", start)
        return Thresh(k, tuple(subs))


def parse_policy(text: str, *, sane: bool = True) -> Policy:
    """The policy ``text`` describes, within the consensus limits and (unless ``sane`` is
    False) the sanity rules; PolicySyntaxError pointing at the problem otherwise."""
    if not isinstance(text, str):
        raise PolicySyntaxError("a policy is text", 0)
    parser = _Parser(text)
    try:
        policy = parser.node(0)
    except RuleError as exc:
        raise parser.fail(exc.message) from exc
    parser.skip()
    if parser.pos != len(text):
        raise parser.fail("unexpected text after the policy")
    try:
        encode_policy(policy)
    except RuleError as exc:
        raise PolicySyntaxError(exc.message, 0) from exc
    if sane and (problem := sanity_problem(policy)):
        raise PolicySyntaxError(problem, 0)
    return policy


# --- sanity and analysis ----------------------------------------------------------------


def _spendable_without_signature(policy: Policy) -> bool:
    if type(policy) is Key:
        return False
    if type(policy) is Thresh:
        return sum(_spendable_without_signature(s) for s in policy.subs) >= policy.k
    return True


def _key_used_twice(policy: Policy) -> bool:
    """Whether one satisfaction could use a key twice: a key under two subs of a threshold
    with k >= 2, where one signature would then count twice toward k. Across the branches
    of an ``or`` a key may repeat (only one branch is used): the escrow's buyer does."""
    if type(policy) is not Thresh:
        return False
    if policy.k >= 2:
        seen: set[tuple[int, bytes]] = set()
        for sub in policy.subs:
            keys = {(k.key_type, k.pubkey) for k in policy_keys(sub)}
            if keys & seen:
                return True
            seen |= keys
    return any(_key_used_twice(sub) for sub in policy.subs)


def sanity_problem(policy: Policy) -> str | None:
    """Why a policy valid in consensus is not standard, or None."""
    if _key_used_twice(policy):
        return "the same key appears twice where one satisfaction could use both"
    if _spendable_without_signature(policy):
        return "a way to spend needs no signature"
    return None


def _satisfiable(policy: Policy, heights: bool) -> bool:
    if type(policy) is After:
        return (policy.n < LOCKTIME_THRESHOLD) == heights
    if type(policy) is Thresh:
        return sum(_satisfiable(s, heights) for s in policy.subs) >= policy.k
    return True


def satisfiable(policy: Policy) -> bool:
    """Whether some tx can ever satisfy the policy (time locks of both domains cannot
    both hold, since one locktime is either a height or a time)."""
    return _satisfiable(policy, True) or _satisfiable(policy, False)


def time_locks(policy: Policy) -> list[int]:
    return [node.n for node in iter_nodes(policy) if type(node) is After]
