"""node.crowdfund: a pledge's checks one rule at a time, the claim's subset and fee
arithmetic, campaign states, the campaign file, the POST's token bucket, and the wallet's
pledge records."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consensus.address import encode_address
from consensus.params import COIN, REGTEST
from consensus.policy import Thresh, encode_policy, policy_lock
from consensus.primitives import Tx, TxIn, TxOut
from consensus.signatures import SECP256K1
from node.crowdfund.backer import PledgeRefused, campaign_goal, campaign_urls
from node.crowdfund.checks import (
    Goal,
    PledgeCode,
    PledgeError,
    check_pledge,
    choose_claim,
    claim_tx,
    fee_share,
    pledge_input,
)
from node.crowdfund.store import (
    CANCELLED,
    CLAIMED,
    DROPPED,
    FAILED,
    FUNDED,
    OPEN,
    Campaign,
    CampaignStore,
    PledgeEntry,
)
from node.web.campaign import MAX_CLIENTS, ClientBuckets, TokenBucket
from tests.chain_helpers import key, pk, sign_input
from wallet.errors import WalletError
from wallet.psbt import create_psbt, finalize, update_input
from wallet.psbt import sign_input as psbt_sign
from wallet.wallet import PledgeRecord, Wallet

BACKER, OTHER, PAYEE = key(1), key(2), key(3)
SECP_BACKER = key(4, SECP256K1.key_type)
RATE = 10
GOAL = Goal(10 * COIN, PAYEE.lock, RATE)
TXID = bytes(range(32))


def pledge(k=BACKER, amount=COIN, goal=GOAL, vout=0, acp=True, txid=TXID):
    """(signed pledge tx, its coin) for ``amount``, its coin holding the fee share too."""
    value = amount + fee_share(vout, k.key_type, goal.fee_rate)
    coin = TxOut(value, k.lock)
    tx = goal.tx([TxIn(txid, vout, k.pubkey, b"")])
    sig = sign_input(tx, 0, k, value, k.lock, acp=acp)
    return Tx(tx.version, (TxIn(txid, vout, k.pubkey, sig),), tx.outputs, tx.locktime), coin


def code_of(tx, coin, goal=GOAL, remaining=10 * COIN) -> PledgeCode:
    with pytest.raises(PledgeError) as err:
        check_pledge(tx, coin, goal, remaining, REGTEST)
    return err.value.code


@pytest.mark.parametrize("k", [BACKER, SECP_BACKER])
def test_a_valid_pledge_counts_its_amount_without_its_fee_share(k):
    tx, coin = pledge(k, 3 * COIN)
    assert check_pledge(tx, coin, GOAL, 10 * COIN, REGTEST) == 3 * COIN
    assert check_pledge(tx, coin, GOAL, 3 * COIN, REGTEST) == 3 * COIN


def test_a_pledge_for_another_goal_is_refused():
    other_goal = Goal(10 * COIN, OTHER.lock, RATE)
    tx, coin = pledge(goal=other_goal)
    assert code_of(tx, coin) is PledgeCode.WRONG_GOAL
    tx, coin = pledge(goal=Goal(9 * COIN, PAYEE.lock, RATE))
    assert code_of(tx, coin) is PledgeCode.WRONG_GOAL
    tx, coin = pledge()
    extra = Tx(tx.version, tx.inputs, (*tx.outputs, TxOut(1, OTHER.lock)), tx.locktime)
    assert code_of(extra, coin) is PledgeCode.WRONG_GOAL
    for version, locktime in ((2, 0), (1, 5)):
        moved = Tx(version, tx.inputs, tx.outputs, locktime)
        assert code_of(moved, coin) is PledgeCode.WRONG_GOAL
    two = Tx(tx.version, (*tx.inputs, tx.inputs[0]), tx.outputs, tx.locktime)
    assert code_of(two, coin) is PledgeCode.WRONG_GOAL


def test_an_all_signature_is_not_a_pledge():
    tx, coin = pledge(acp=False)
    assert len(tx.inputs[0].sig) == 64
    assert code_of(tx, coin) is PledgeCode.NOT_ACP
    flagged = tx.inputs[0].sig + b"\x01"
    bad = Tx(1, (TxIn(TXID, 0, BACKER.pubkey, flagged),), tx.outputs, 0)
    assert code_of(bad, coin) is PledgeCode.NOT_ACP


def test_a_spent_or_unknown_coin_is_refused():
    tx, _ = pledge()
    assert code_of(tx, None) is PledgeCode.COIN_SPENT


def test_forged_signatures_and_keys_are_refused():
    tx, coin = pledge()
    sig = bytearray(tx.inputs[0].sig)
    sig[3] ^= 1
    forged = Tx(1, (TxIn(TXID, 0, BACKER.pubkey, bytes(sig)),), tx.outputs, 0)
    assert code_of(forged, coin) is PledgeCode.BAD_SIGNATURE
    other_key = Tx(1, (TxIn(TXID, 0, OTHER.pubkey, tx.inputs[0].sig),), tx.outputs, 0)
    assert code_of(other_key, coin) is PledgeCode.BAD_SIGNATURE
    # A coin of another value: the signature committed to the value it saw.
    assert code_of(tx, TxOut(coin.value + 1, coin.lock)) is PledgeCode.BAD_SIGNATURE


def test_a_policy_coin_is_not_a_pledge():
    tx, coin = pledge()
    policy = policy_lock(encode_policy(Thresh(1, (pk(BACKER), pk(OTHER)))))
    assert code_of(tx, TxOut(coin.value, policy)) is PledgeCode.UNSUPPORTED_LOCK


def test_over_the_remainder_is_refused_with_what_remains():
    tx, coin = pledge(amount=3 * COIN)
    with pytest.raises(PledgeError) as err:
        check_pledge(tx, coin, GOAL, 3 * COIN - 1, REGTEST)
    assert err.value.code is PledgeCode.OVER_GOAL and err.value.remaining == 3 * COIN - 1


def test_a_coin_below_its_fee_share_is_refused():
    tx, coin = pledge(amount=0)
    assert code_of(tx, coin) is PledgeCode.TOO_SMALL


@pytest.mark.parametrize("count", [1, 2, 7, 15])
def test_the_claim_fee_is_exactly_the_pledges_fee_shares(count):
    goal = Goal(count * COIN, PAYEE.lock, RATE)
    pledges = [pledge(amount=COIN, vout=n, goal=goal) for n in range(count)]
    claim = claim_tx(goal, [tx.inputs[0] for tx, _ in pledges])
    fee = sum(c.value for _, c in pledges) - sum(o.value for o in claim.outputs)
    assert claim.outputs == (TxOut(count * COIN, PAYEE.lock),)
    assert fee == sum(fee_share(n, BACKER.key_type, RATE) for n in range(count))
    # Each share pays exactly its input's bytes in the claim at the campaign's rate.
    assert fee == RATE * (claim.size - goal.tx([]).size)


def test_choose_claim_takes_all_when_they_meet_the_goal():
    assert choose_claim([("a", 6), ("b", 3), ("c", 1)], 10) == ["a", "b", "c"]


def test_choose_claim_drops_the_fewest_pledges_to_meet_the_goal_exactly():
    assert choose_claim([("a", 6), ("b", 3), ("c", 1), ("d", 2)], 10) == ["a", "b", "c"]
    assert choose_claim([("a", 6), ("b", 3), ("c", 4), ("d", 2)], 10) == ["a", "c"]


def test_choose_claim_refuses_short_and_unmatchable_sets():
    with pytest.raises(Exception, match="sum to 9 of the goal 10"):
        choose_claim([("a", 6), ("b", 3)], 10)
    with pytest.raises(Exception, match="no subset"):
        choose_claim([("a", 7), ("b", 7)], 10)


@given(st.lists(st.integers(1, 50), min_size=1, max_size=8), st.integers(1, 200))
def test_a_claim_never_pays_more_or_less_than_the_goal(amounts, goal):
    pledges = [(str(n), a) for n, a in enumerate(amounts)]
    try:
        chosen = choose_claim(pledges, goal)
    except Exception:
        return
    assert sum(a for pid, a in pledges if pid in chosen) == goal


def test_pledge_input_reads_the_final_or_the_partial_signature():
    value = COIN + fee_share(0, BACKER.key_type, RATE)
    psbt = create_psbt(GOAL.tx([TxIn(TXID, 0, b"", b"")]), REGTEST.magic)
    psbt = update_input(psbt, 0, TxOut(value, BACKER.lock), BACKER.pubkey)
    with pytest.raises(PledgeError) as err:
        pledge_input(psbt)
    assert err.value.code is PledgeCode.BAD_SIGNATURE
    signed = psbt_sign(psbt, 0, BACKER.key_type, BACKER.secret, REGTEST, acp=True)
    partial = pledge_input(signed)
    final = pledge_input(finalize(signed, REGTEST))
    assert partial == final and len(final.sig) == 65
    tx = GOAL.tx([final])
    assert check_pledge(tx, TxOut(value, BACKER.lock), GOAL, 10 * COIN, REGTEST) == COIN


def campaign(**kw) -> Campaign:
    base = dict(
        id="00" * 8,
        title="t",
        description="",
        goal=10,
        payee=PAYEE.lock,
        deadline=100,
        fee_rate=RATE,
        created=0,
    )
    return Campaign(**{**base, **kw})


def entry(amount: int, status: str = "valid") -> PledgeEntry:
    return PledgeEntry("p" * 64, "psbt", TXID + bytes(4), amount + 1, amount, 0, status)


def test_campaign_states():
    c = campaign(pledges=[entry(6), entry(3)])
    assert c.pledged == 9 and c.state(100) == OPEN and c.state(101) == FAILED
    c.pledges.append(entry(1))
    assert c.state(101) == FUNDED
    c.pledges[0].status = DROPPED
    assert c.pledged == 4 and c.state(50) == OPEN
    for closed in (CLAIMED, CANCELLED):
        assert campaign(closed=closed).state(500) == closed


def test_the_campaign_file_round_trips_and_refuses_damage(tmp_path):
    store = CampaignStore(tmp_path / "campaigns.json")
    assert store.load() == {}
    c = campaign(pledges=[entry(6), entry(3, DROPPED)], claim_txid="ab" * 32, closed=CLAIMED)
    store.save({c.id: c})
    assert store.load() == {c.id: c}
    assert not (tmp_path / "campaigns.json.tmp").exists()
    (tmp_path / "campaigns.json").write_text('{"format": "obol-campaigns", "version": 1}')
    with pytest.raises(Exception, match="damaged"):
        store.load()


def test_the_token_bucket_admits_a_burst_then_its_rate():
    now = [0.0]
    bucket = TokenBucket(3, 2, clock=lambda: now[0])
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    now[0] = 0.5
    assert [bucket.take() for _ in range(2)] == [True, False]
    now[0] = 100
    assert sum(bucket.take() for _ in range(10)) == 3


def test_each_client_has_its_own_bucket_and_the_table_is_bounded():
    now = [0.0]
    buckets = ClientBuckets(clock=lambda: now[0])
    assert sum(buckets.take("flooder") for _ in range(100)) == 20
    assert buckets.take("honest")
    for n in range(MAX_CLIENTS):
        buckets.take(f"c{n}")
    assert len(buckets._buckets) == MAX_CLIENTS
    assert buckets.take("flooder")  # forgotten, so a fresh bucket


def test_pledges_survive_the_wallet_file_and_reserve_their_coins():
    wallet = Wallet.create("regtest", bytes(16), lookahead=2)
    coin_a, coin_b = TXID + bytes(4), TXID + b"\x01\x00\x00\x00"
    wallet.pledges["a"] = PledgeRecord("http://h/campaign/x", coin_a, 5, 1)
    wallet.pledges["b"] = PledgeRecord("http://h/campaign/x", coin_b, 5, 1, b"\x07" * 32)
    assert wallet.reserved_coins() == {coin_a}
    loaded = Wallet.from_json(json.loads(json.dumps(wallet.to_json())))
    assert loaded.pledges == wallet.pledges and loaded.reserved_coins() == {coin_a}
    old = wallet.to_json()
    del old["pledges"]
    assert Wallet.from_json(old).pledges == {}
    old["pledges"] = {"a": {"url": "u"}}
    with pytest.raises(WalletError):
        Wallet.from_json(old)


def test_the_backer_reads_the_campaign_and_refuses_what_it_must():
    info = {
        "goal": "10.00000000",
        "payee": encode_address(PAYEE.lock, REGTEST),
        "feerate": RATE,
        "remaining": "4.00000000",
        "state": "open",
    }
    assert campaign_goal(info, 4 * COIN, REGTEST) == GOAL
    with pytest.raises(PledgeRefused, match=r"4\.00000000 OBOL remain"):
        campaign_goal(info, 4 * COIN + 1, REGTEST)
    for rate in (0, 1001):
        with pytest.raises(PledgeRefused, match="fee rate"):
            campaign_goal({**info, "feerate": rate}, COIN, REGTEST)
    with pytest.raises(PledgeRefused, match="the campaign is funded"):
        campaign_goal({**info, "state": "funded"}, COIN, REGTEST)
    with pytest.raises(PledgeRefused, match="not usable"):
        campaign_goal({**info, "payee": "nope"}, COIN, REGTEST)


def test_campaign_urls():
    page = "http://127.0.0.1:8332/campaign/0123456789abcdef"
    urls = (
        "http://127.0.0.1:8332/rest/campaign/0123456789abcdef.json",
        "http://127.0.0.1:8332/rest/campaign/0123456789abcdef/pledge",
    )
    assert campaign_urls(page) == campaign_urls(urls[0]) == urls
    with pytest.raises(PledgeRefused, match="not a campaign URL"):
        campaign_urls("http://127.0.0.1:8332/campaign/../../etc")
