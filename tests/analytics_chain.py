"""A small chain with planted owners for the export and analysis tests, and the export's
view of a ChainBuilder (no node needed)."""

from __future__ import annotations

from consensus.address import encode_address
from consensus.params import COIN, REGTEST
from consensus.policy import After, Thresh, encode_policy, encode_satisfaction, policy_lock
from consensus.primitives import Tx
from consensus.validation import median_time_past
from node.analytics.export import ChainAccess
from node.analytics.tables import BlockRecord
from tests.chain_helpers import ChainBuilder, key, pk, policy_tx, sign_input, spend, with_sigs

A1, A2, A3 = key(1101), key(1102), key(1103)  # one owner: A1+A2 spent together, A3 change
B1, B2 = key(1201), key(1202)  # one owner: spent together
C1, D1 = key(1301), key(1401)  # two backers pledging (ALL|ANYONECANPAY) into one tx
G = key(1501)  # the campaign's payee
E, E2, F = key(1601), key(1602), key(1701)  # borrower, borrower's repayment coin, lender
MATURITY = 150
FEE = 10_000


def loan_policy(maturity: int) -> bytes:
    return encode_policy(
        Thresh(1, (Thresh(2, (pk(E), pk(F))), Thresh(2, (pk(F), After(maturity)))))
    )


LOAN = loan_policy(MATURITY)


def addr(k) -> str:
    return encode_address(k.lock, REGTEST)


def planted_chain() -> tuple[ChainBuilder, dict[str, object]]:
    """103 blocks: a funding tx at 102, then at 103 a common-input spend with change (A),
    a common-input spend (B), a two-backer pledge and a loan repayment."""
    b = ChainBuilder()
    b.mine_empty(101)
    cb = b.coinbase_utxo(1)
    owners = (A1, A2, B1, B2, C1, D1, E2)
    outs = [(5 * COIN, k.lock) for k in owners] + [(5 * COIN, policy_lock(LOAN))]
    fund = spend([cb], [*outs, (cb.value - 8 * 5 * COIN - FEE, b.miner.lock)])
    b.mine([fund])
    tx_a = spend(
        [b.utxo(fund, 0, A1), b.utxo(fund, 1, A2)],
        [(3 * COIN, B1.lock), (7 * COIN - FEE, A3.lock)],
    )
    tx_b = spend([b.utxo(fund, 2, B1), b.utxo(fund, 3, B2)], [(10 * COIN - FEE, b.miner.lock)])
    bare = policy_tx(
        [(fund.txid, 4, C1.pubkey), (fund.txid, 5, D1.pubkey)], [(10 * COIN - FEE, G.lock)]
    )
    pledge = with_sigs(
        bare,
        {n: sign_input(bare, n, k, 5 * COIN, k.lock, acp=True) for n, k in enumerate((C1, D1))},
    )
    bare = policy_tx(
        [(fund.txid, 7, LOAN), (fund.txid, 6, E2.pubkey)],
        [(6 * COIN, F.lock), (4 * COIN - FEE, E.lock)],
    )
    lock = policy_lock(LOAN)
    sat = [[sign_input(bare, 0, E, 5 * COIN, lock), sign_input(bare, 0, F, 5 * COIN, lock)], None]
    repay = with_sigs(
        bare,
        {0: encode_satisfaction(sat), 1: sign_input(bare, 1, E2, 5 * COIN, E2.lock)},
    )
    b.mine([tx_a, tx_b, pledge, repay])
    return b, {"fund": fund, "a": tx_a, "b": tx_b, "pledge": pledge, "repay": repay}


def builder_access(b: ChainBuilder) -> ChainAccess:
    """The export's view of ``b``'s chain, as the node gives it from its chain thread."""

    async def snapshot(heights: list[int]):
        found = [b.blocks[h].hash if 0 <= h <= b.height else None for h in heights]
        return b.height, b.tip.hash, found

    async def read_blocks(first: int, last: int):
        records = [
            BlockRecord(
                h,
                b.blocks[h].hash,
                median_time_past(b.times[max(0, h - 10) : h + 1]),
                b.blocks[h],
                b.undos[h],
            )
            for h in range(first, last + 1)
        ]
        return records, b.blocks[first - 1].hash if first else None

    return ChainAccess(b.params, snapshot, read_blocks)


PRINCIPAL, INTEREST, COLLATERAL = 5 * COIN, COIN, 10 * COIN


def loan_chain() -> tuple[ChainBuilder, list[tuple[Tx, Tx]]]:
    """Borrower E, lender F: three loans opened at 104 (maturities 120, 130, 110); the
    first two repaid at 105, the third claimed by the lender at 111. [(open, close)]."""
    b = ChainBuilder()
    b.mine_empty(103)
    maturities = (120, 130, 110)
    opens = []
    for n, maturity in enumerate(maturities, start=1):
        cb = b.coinbase_utxo(n)
        rest = cb.value - PRINCIPAL - COLLATERAL - FEE
        outs = [
            (PRINCIPAL, E.lock),
            (COLLATERAL, policy_lock(loan_policy(maturity))),
            (rest, b.miner.lock),
        ]
        opens.append(spend([cb], outs))
    b.mine(opens)
    closes = []
    for tx, maturity in zip(opens[:2], maturities, strict=False):
        policy = loan_policy(maturity)
        lock = policy_lock(policy)
        bare = policy_tx(
            [(tx.txid, 1, policy)],
            [(PRINCIPAL + INTEREST, F.lock), (COLLATERAL - PRINCIPAL - INTEREST - FEE, E.lock)],
        )
        sigs = [sign_input(bare, 0, k, COLLATERAL, lock) for k in (E, F)]
        closes.append(with_sigs(bare, {0: encode_satisfaction([sigs, None])}))
    b.mine(closes)
    b.mine_empty(110 - b.height)
    policy = loan_policy(110)
    lock = policy_lock(policy)
    bare = policy_tx([(opens[2].txid, 1, policy)], [(COLLATERAL - FEE, F.lock)], locktime=110)
    sat = [None, [sign_input(bare, 0, F, COLLATERAL, lock), True]]
    claim = with_sigs(bare, {0: encode_satisfaction(sat)})
    b.mine([claim])
    closes.append(claim)
    return b, list(zip(opens, closes, strict=True))
