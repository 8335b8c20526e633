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


BUYER, SELLER, ARBITER = key(1801), key(1802), key(1803)
REFUND = 110
ESCROW = 4 * COIN


def escrow_policy_bytes() -> bytes:
    three = Thresh(2, (pk(BUYER), pk(SELLER), pk(ARBITER)))
    return encode_policy(Thresh(1, (three, Thresh(2, (pk(BUYER), After(REFUND))))))


def escrow_chain() -> tuple[ChainBuilder, dict[str, Tx]]:
    """Three escrows funded at 102 (refund height 110): released by buyer and seller at
    103, settled by the arbiter with the seller at 103, refunded to the buyer at 111."""
    b = ChainBuilder()
    b.mine_empty(101)
    cb = b.coinbase_utxo(1)
    policy = escrow_policy_bytes()
    lock = policy_lock(policy)
    fund = spend([cb], [(ESCROW, lock)] * 3 + [(cb.value - 3 * ESCROW - FEE, b.miner.lock)])
    b.mine([fund])

    def payout(vout: int, to, signers: set[int], locktime: int = 0) -> Tx:
        bare = policy_tx([(fund.txid, vout, policy)], [(ESCROW - FEE, to.lock)], locktime)
        if locktime:
            sat = [None, [sign_input(bare, 0, BUYER, ESCROW, lock), True]]
        else:
            sigs = [
                sign_input(bare, 0, k, ESCROW, lock) if n in signers else None
                for n, k in enumerate((BUYER, SELLER, ARBITER))
            ]
            sat = [sigs, None]
        return with_sigs(bare, {0: encode_satisfaction(sat)})

    released = payout(0, SELLER, {0, 1})
    arbitrated = payout(1, SELLER, {1, 2})
    b.mine([released, arbitrated])
    b.mine_empty(REFUND - b.height)
    refunded = payout(2, BUYER, set(), locktime=REFUND)
    b.mine([refunded])
    return b, {"released": released, "arbitrated": arbitrated, "refunded": refunded}


X1, X2, X3, W = key(1901), key(1902), key(1903), key(1904)  # X: one owner, a burst to W
Y1, Y2, Y3, Z, H = key(2001), key(2002), key(2003), key(2004), key(2005)  # Y poses as two
P = [key(2101 + n) for n in range(6)]  # a coin peeled five times, to Q
Q = [key(2201 + n) for n in range(5)]
BURST = 11


def fraud_chain() -> tuple[ChainBuilder, dict[str, object]]:
    """Each fraud signal planted once: at 103 X1+X2 and Y1+Y2 spent together (one owner
    each); at 104 a burst of BURST txs from X1's coins; at 105-109 a 10-coin coin peeled
    by 1 coin five times; at 110 a claim for H of three pledges, two of them Y's."""
    b = ChainBuilder()
    b.mine_empty(101)
    cb = b.coinbase_utxo(1)
    outs = [(COIN, X1.lock)] * (BURST + 1) + [(COIN, X2.lock)]
    outs += [(COIN, Y1.lock), (COIN, Y1.lock), (COIN, Y2.lock), (COIN, Y2.lock), (COIN, Z.lock)]
    outs += [(10 * COIN, P[0].lock)]
    fund = spend([cb], [*outs, (cb.value - sum(v for v, _ in outs) - FEE, b.miner.lock)])
    b.mine([fund])
    n_x = BURST + 1
    join_x = spend([b.utxo(fund, 0, X1), b.utxo(fund, n_x, X2)], [(2 * COIN - FEE, X3.lock)])
    y = n_x + 1
    join_y = spend([b.utxo(fund, y, Y1), b.utxo(fund, y + 2, Y2)], [(2 * COIN - FEE, Y3.lock)])
    b.mine([join_x, join_y])
    burst = [spend([b.utxo(fund, n, X1)], [(COIN - FEE, W.lock)]) for n in range(1, n_x)]
    b.mine(burst)
    peel = []
    coin = b.utxo(fund, y + 5, P[0])
    for n in range(5):
        tx = spend([coin], [(COIN, Q[n].lock), (coin.value - COIN - FEE, P[n + 1].lock)])
        b.mine([tx])
        peel.append(tx)
        coin = b.utxo(tx, 1, P[n + 1])
    backers = [(y + 1, Y1), (y + 3, Y2), (y + 4, Z)]
    bare = policy_tx(
        [(fund.txid, vout, k.pubkey) for vout, k in backers], [(3 * COIN - FEE, H.lock)]
    )
    claim = with_sigs(
        bare,
        {n: sign_input(bare, n, k, COIN, k.lock, acp=True) for n, (_, k) in enumerate(backers)},
    )
    b.mine([claim])
    return b, {"join_x": join_x, "join_y": join_y, "burst": burst, "peel": peel, "claim": claim}
