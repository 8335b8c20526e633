"""The policy text form: parsing, printing, errors that point at the problem, sanity."""

from __future__ import annotations

import pytest

from consensus.policy import After, Sha256, Thresh
from consensus.policy_text import (
    PolicySyntaxError,
    format_policy,
    parse_policy,
    sanity_problem,
    satisfiable,
)
from consensus.signatures import SECP256K1
from tests.chain_helpers import key, pk

A, B, C = pk(key(601)), pk(key(602, SECP256K1.key_type)), pk(key(603))
HA, HB, HC = (
    f"ed25519:{A.pubkey.hex()}",
    f"secp256k1:{B.pubkey.hex()}",
    f"ed25519:{C.pubkey.hex()}",
)


def test_escrow_text_round_trip() -> None:
    text = f"or(thresh(2, pk({HA}), pk({HB}), pk({HC})), and(pk({HA}), after(1000)))"
    policy = parse_policy(text)
    assert policy == Thresh(1, (Thresh(2, (A, B, C)), Thresh(2, (A, After(1000)))))
    printed = format_policy(policy)
    assert printed == text.replace(" ", "")
    assert parse_policy(printed) == policy


def test_forms_of_threshold() -> None:
    assert parse_policy(f"and(pk({HA}),pk({HB}))") == Thresh(2, (A, B))
    assert parse_policy(f"or(pk({HA}),pk({HB}))") == Thresh(1, (A, B))
    assert format_policy(Thresh(2, (A, B, C))) == f"thresh(2,pk({HA}),pk({HB}),pk({HC}))"
    assert format_policy(Thresh(1, (A,))) == f"thresh(1,pk({HA}))"
    assert parse_policy(f"pk({HA})") == A
    h = bytes(range(32))
    assert parse_policy(f" and ( pk( {HA} ) , sha256({h.hex()}) ) ") == Thresh(2, (A, Sha256(h)))


@pytest.mark.parametrize(
    ("text", "marker", "words"),
    [
        ("pk(ed25519:00)", "00", "32 bytes"),
        (f"pk(rsa:{A.pubkey.hex()})", "rsa", "ed25519:HEX"),
        (f"thresh(3,pk({HA}),pk({HB}))", "thresh", "1 <= k <= n"),
        (f"thresh(0,pk({HA}))", "0,", "between 1 and 20"),
        (f"and(pk({HA}),after(x))", "x", "decimal"),
        (f"and(pk({HA}),after(0))", "0)", "between 1"),
        (f"and(pk({HA}),after(01))", "01", "decimal"),
        (f"and(pk({HA}),hash(00))", "hash", "unknown fragment"),
        (f"and(pk({HA}) pk({HB}))", "pk(secp", "expected ')'"),
        (f"pk({HA})x", "x", "unexpected text"),
        (f"and(pk({HA}),sha256(00))", "00", "32 bytes"),
    ],
)
def test_errors_point_at_the_problem(text: str, marker: str, words: str) -> None:
    with pytest.raises(PolicySyntaxError) as exc:
        parse_policy(text)
    assert exc.value.position == text.rindex(marker), exc.value
    assert words in str(exc.value)


@pytest.mark.parametrize(("text", "position"), [("and(", 4), ("", 0), ("  ", 2)])
def test_errors_at_the_end(text: str, position: int) -> None:
    with pytest.raises(PolicySyntaxError, match="expected a name") as exc:
        parse_policy(text)
    assert exc.value.position == position


def test_limits_in_text() -> None:
    text = f"pk({HA})"
    for _ in range(9):
        text = f"thresh(1,{text})"
    with pytest.raises(PolicySyntaxError, match="nested"):
        parse_policy(text)
    keys = [f"pk(ed25519:{key(700 + i).pubkey.hex()})" for i in range(21)]
    with pytest.raises(PolicySyntaxError, match="keys"):
        parse_policy(f"or(or({','.join(keys[:20])}),{keys[20]})")


def test_sanity() -> None:
    h = "00" * 32
    for text, problem in [
        (f"and(pk({HA}),pk({HA}))", "twice"),
        (f"thresh(2,pk({HA}),or(pk({HB}),pk({HA})),pk({HC}))", "twice"),
        (f"or(pk({HA}),after(5))", "no signature"),
        (f"sha256({h})", "no signature"),
        (f"thresh(2,pk({HA}),after(5),sha256({h}))", "no signature"),
    ]:
        with pytest.raises(PolicySyntaxError, match=problem):
            parse_policy(text)
        assert problem in sanity_problem(parse_policy(text, sane=False))
    assert sanity_problem(parse_policy(f"and(pk({HA}),after(5))")) is None
    # across the branches of an or a key may repeat: one satisfaction uses one branch
    assert sanity_problem(parse_policy(f"or(pk({HA}),and(pk({HA}),pk({HB})))")) is None


def test_satisfiable() -> None:
    assert satisfiable(Thresh(2, (A, After(5))))
    assert not satisfiable(Thresh(3, (A, After(5), After(600_000_000))))
    assert satisfiable(Thresh(2, (A, Thresh(1, (After(5), After(600_000_000))))))
