"""Questions asked of an export (node/analytics/export.py) through DuckDB.

Each analysis returns a JSON-ready dict that states its assumptions beside its figures:
what the numbers count, and where a heuristic may be wrong. Amounts are integers of base
units. The clustering follows Meiklejohn et al., "A Fistful of Bitcoins" (IMC 2013):
inputs spent together share an owner, and a fresh change output goes back to the spender.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from .export import MANIFEST
from .tables import TABLES

AGE_EDGES = (1, 10, 100, 1000, 10_000)  # blocks; the last bucket is open
PERCENTILES = ("10", "50", "90")

# Inputs that more than one party may have signed: a policy coin (escrow, loan, multisig)
# and a signature over its own input only (ALL|ANYONECANPAY, the crowdfunding pledge);
# and a loan's opening tx, where the lender's and the borrower's coins go in together.
MULTI_PARTY_TXS = """
    SELECT txid FROM inputs WHERE is_policy OR sighash = 'ALL|ANYONECANPAY'
    UNION SELECT prev_txid FROM policy_spends WHERE contract = 'loan'
"""

COMMON_INPUT_ASSUMPTIONS = [
    "common-input: the key inputs of one tx are signed by one owner, so their addresses "
    "share an owner (wrong for a tx that several people build together, as a CoinJoin or "
    "a PSBT whose inputs come from different wallets)",
    "a tx with a policy input (escrow, loan, multisig) or an ALL|ANYONECANPAY signature "
    "(crowdfunding pledges) is left out: its inputs belong to different people by design; "
    "so is a loan's opening tx (lender and borrower fund it together), once the loan's "
    "spend shows it",
]
CHANGE_ASSUMPTIONS = [
    "change: in a non-coinbase tx with two or more output addresses, none of them one of "
    "its input addresses, when exactly one output address receives for the first time on "
    "the chain (and is not a policy), that output is the spender's change",
    "it is wrong when a payee hands out a fresh address while the change goes to a reused "
    "one, or when the wallet reuses change addresses",
]


class AnalyzeError(Exception):
    """A directory that holds no export, or a question it cannot answer; one line."""


class Analysis:
    """An export opened in DuckDB: each table a view over its Parquet files."""

    def __init__(self, directory: Path, progress: bool = False) -> None:
        import duckdb

        if not (directory / MANIFEST).is_file():
            raise AnalyzeError(
                f"{directory} holds no export: run obol export --to {directory} first"
            )
        self.directory = directory
        self.progress = progress
        self.con = duckdb.connect()
        if progress:
            self.con.execute("SET enable_progress_bar = true")
        for table in TABLES:
            glob = str(directory / table / "*" / "*.parquet").replace("'", "''")
            self.con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{glob}')")

    def rows(
        self, sql: str, params: list[Any] | dict[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, params or []).fetchall()

    def tip(self) -> int:
        return self.rows("SELECT max(height) FROM blocks")[0][0]

    def every(self, every: int | None) -> int:
        return every or max(1, -(-(self.tip() + 1) // 20))

    def summary(self) -> dict[str, Any]:
        height, blocks = self.rows("SELECT max(height), count(*) FROM blocks")[0]
        txs, fees, supply = self.rows(
            "SELECT count(*), coalesce(sum(fee), 0), "
            "sum(output_value) FILTER (WHERE is_coinbase AND height > 0) - coalesce(sum(fee), 0) "
            "FROM txs"
        )[0]
        utxos, value = self.rows(f"SELECT count(*), sum(value) FROM ({UNSPENT})")[0]
        return {
            "height": height,
            "blocks": blocks,
            "txs": txs,
            "fees": int(fees),
            "supply": int(supply),
            "utxos": utxos,
            "utxo_value": int(value or 0),
            "assumptions": [
                "supply is what the coinbases claimed (subsidy and fees paid out) less "
                "the fees, so it equals the value of every unspent output",
                "the genesis block's output is in no coin set and counts nowhere",
            ],
        }

    def supply(self, every: int | None = None) -> dict[str, Any]:
        step = self.every(every)
        out = self.rows(
            """
            WITH claimed AS (
                SELECT b.height // ? * ? AS first, b.height, b.subsidy, b.fees,
                       t.output_value - b.fees AS minted
                FROM blocks b JOIN txs t ON t.height = b.height AND t.is_coinbase
                WHERE b.height > 0)
            SELECT first, max(height), sum(subsidy), sum(minted), sum(fees),
                   sum(sum(minted)) OVER (ORDER BY first)
            FROM claimed GROUP BY first ORDER BY first
            """,
            [step, step],
        )
        return {
            "every": step,
            "periods": [
                {
                    "first_height": first,
                    "last_height": last,
                    "subsidy": int(subsidy),
                    "minted": int(minted),
                    "fees": int(fees),
                    "supply": int(total),
                }
                for first, last, subsidy, minted, fees, total in out
            ],
            "assumptions": [
                "minted is what a coinbase claimed less the block's fees (at most the "
                "subsidy; a miner may claim less); supply is the running sum of minted"
            ],
        }

    def volume(self, every: int | None = None) -> dict[str, Any]:
        step = self.every(every)
        out = self.rows(
            """
            WITH periods AS (
                SELECT height // ? * ? AS first, max(height) AS last FROM blocks GROUP BY first),
            moved AS (
                SELECT height // ? * ? AS first, count(*) AS n, sum(output_value) AS value,
                       sum(fee) AS fees, quantile_disc(fee // size, [0.1, 0.5, 0.9]) AS rates
                FROM txs WHERE NOT is_coinbase GROUP BY first)
            SELECT first, last, coalesce(n, 0), coalesce(value, 0), coalesce(fees, 0), rates
            FROM periods LEFT JOIN moved USING (first) ORDER BY first
            """,
            [step, step, step, step],
        )
        return {
            "every": step,
            "periods": [
                {
                    "first_height": first,
                    "last_height": last,
                    "txs": txs,
                    "value": int(value),
                    "fees": int(fees),
                    "feerate_percentiles": dict(zip(PERCENTILES, p or (None,) * 3, strict=True)),
                }
                for first, last, txs, value, fees, p in out
            ],
            "assumptions": [
                "volume is the output value of non-coinbase txs, change included: it "
                "overstates what changed hands",
                "fee rates are whole base units per byte of the tx (as getblockstats), "
                "percentiles over txs; null in a period without txs",
            ],
        }

    def utxo_age(self) -> dict[str, Any]:
        tip = self.tip()
        cases = " ".join(
            f"WHEN ? - height < {edge} THEN {n}" for n, edge in enumerate(AGE_EDGES, start=1)
        )
        out = self.rows(
            f"""
            SELECT CASE {cases} ELSE {len(AGE_EDGES) + 1} END AS bucket, count(*), sum(value)
            FROM ({UNSPENT}) GROUP BY bucket ORDER BY bucket
            """,
            [tip] * len(AGE_EDGES),
        )
        found = {bucket: (n, int(v)) for bucket, n, v in out}
        lows = (0, *AGE_EDGES)
        buckets = []
        for i, low in enumerate(lows, start=1):
            n, v = found.get(i, (0, 0))
            high = AGE_EDGES[i - 1] - 1 if i <= len(AGE_EDGES) else None
            buckets.append({"min_age": low, "max_age": high, "utxos": n, "value": v})
        return {
            "height": tip,
            "buckets": buckets,
            "assumptions": [
                "age is the tip height less the height of the block that made it",
                "the genesis block's output is in no coin set and counts nowhere",
            ],
        }

    def address(self, address: str) -> dict[str, Any]:
        (received, n_in, first, last) = self.rows(
            "SELECT sum(value), count(*), min(height), max(height) FROM outputs WHERE address = ?",
            [address],
        )[0]
        if not n_in:
            raise AnalyzeError(f"{address} never received anything in this export")
        (sent, n_out) = self.rows(
            "SELECT sum(value), count(*) FROM spends WHERE address = ?", [address]
        )[0]
        sent_to = self.rows(
            """
            SELECT o.address, sum(o.value), count(DISTINCT o.txid) FROM outputs o
            WHERE o.txid IN (SELECT txid FROM spends WHERE address = ?)
              AND o.address IS DISTINCT FROM ?
            GROUP BY o.address ORDER BY 2 DESC, 1
            """,
            [address, address],
        )
        received_from = self.rows(
            """
            SELECT s.address, sum(o.value), count(DISTINCT o.txid)
            FROM outputs o JOIN (SELECT DISTINCT txid, address FROM spends) s USING (txid)
            WHERE o.address = ? AND s.address IS DISTINCT FROM ?
            GROUP BY s.address ORDER BY 2 DESC, 1
            """,
            [address, address],
        )
        return {
            "address": address,
            "received": int(received),
            "sent": int(sent or 0),
            "balance": int(received) - int(sent or 0),
            "outputs_received": n_in,
            "outputs_spent": n_out,
            "first_height": first,
            "last_height": last,
            "sent_to": [{"address": a, "value": int(v), "txs": n} for a, v, n in sent_to],
            "received_from": [
                {"address": a, "value": int(v), "txs": n} for a, v, n in received_from
            ],
            "assumptions": [
                "sent_to: the outputs of txs this address spent in, to other addresses "
                "(the value paid to each, whoever owns it)",
                "received_from: the input addresses of txs that paid this address, with "
                "the value this address received in them (a tx with several input "
                "addresses counts its value once for each)",
            ],
        }

    def subject_address(self, subject: str) -> str:
        """An address as given, or the plain address of a public key (``ed25519:HEX``,
        ``secp256k1:HEX``, or 32/33 bytes of hex)."""
        from consensus.address import AddressError, decode_address, encode_address
        from consensus.params import NETWORKS
        from consensus.signatures import make_lock

        from ..rpc.errors import RpcError
        from ..rpc.methods.policies import parse_key

        params = NETWORKS[json.loads((self.directory / MANIFEST).read_text())["network"]]
        try:
            decode_address(subject, params)
            return subject
        except AddressError:
            pass
        try:
            key = parse_key(subject)
        except RpcError as exc:
            raise AnalyzeError(f"not an address or a public key: {subject}") from exc
        return encode_address(make_lock(key.key_type, key.pubkey), params)

    def credit(self, subjects: str | list[str]) -> dict[str, Any]:
        """A borrower's loan history from the chain alone, each loan with its txids:
        ``subjects`` are the borrower's addresses or keys (a wallet takes a new key per
        loan, and the chain cannot tell they share an owner; the borrower can)."""
        if isinstance(subjects, str):
            subjects = [subjects]
        if not subjects:
            raise AnalyzeError("a credit report needs an address or a public key")
        addresses = sorted({self.subject_address(s) for s in subjects})
        out = [_loan_entry(row) for row in self._loans_of(addresses)]
        first, received, sent = self.rows(
            """
            SELECT (SELECT min(height) FROM outputs WHERE list_contains($1, address)),
                   (SELECT coalesce(sum(value), 0) FROM outputs WHERE list_contains($1, address)),
                   (SELECT coalesce(sum(value), 0) FROM spends WHERE list_contains($1, address))
            """,
            [addresses],
        )[0]
        tip = self.tip()
        history = self.rows(
            """
            WITH moves AS (
                SELECT height, value FROM outputs WHERE list_contains($1, address)
                UNION ALL SELECT height, -value FROM spends WHERE list_contains($1, address))
            SELECT height, sum(sum(value)) OVER (ORDER BY height) FROM moves
            GROUP BY height ORDER BY height
            """,
            [addresses],
        )
        return {
            "addresses": addresses,
            "height": tip,
            "loans": out,
            "repaid": sum(1 for loan in out if loan["status"] == "repaid"),
            "repaid_on_time": sum(1 for loan in out if loan["on_time"]),
            "defaulted": sum(1 for loan in out if loan["status"] != "repaid"),
            "first_seen_height": first,
            "age_blocks": None if first is None else tip - first,
            "balance": int(received) - int(sent),
            "balance_history": [{"height": h, "balance": int(b)} for h, b in history],
            "assumptions": list(CREDIT_ASSUMPTIONS),
        }

    def _loans_of(self, addresses: list[str]) -> list[tuple[Any, ...]]:
        """The loan spends of ``addresses`` as borrower, in chain order: borrower,
        opening txid, closing txid, closing height, event, maturity, collateral, lender,
        principal (paid to the borrower by the opening tx), paid to the lender by the
        closing tx, opening height."""
        return self.rows(
            """
            SELECT p.borrower, p.prev_txid, p.txid, p.height, p.event, p.maturity, p.value,
                   p.lender,
                   (SELECT coalesce(sum(value), 0) FROM outputs o
                     WHERE o.txid = p.prev_txid AND o.address = p.borrower),
                   (SELECT coalesce(sum(value), 0) FROM outputs o
                     WHERE o.txid = p.txid AND o.address = p.lender),
                   (SELECT height FROM txs t WHERE t.txid = p.prev_txid)
            FROM policy_spends p WHERE p.contract = 'loan' AND list_contains(?, p.borrower)
            ORDER BY p.height, (SELECT position FROM txs t WHERE t.txid = p.txid), p.vin
            """,
            [addresses],
        )

    def _say(self, text: str) -> None:
        if self.progress:
            print(f"\r{text}", end="", file=sys.stderr, flush=True)

    def clusters(self, minimum: int = 2) -> dict[str, Any]:
        """Address clusters by both heuristics; each link with its heuristic and txid."""
        found = self.cluster_groups()
        balances = dict(self.rows(f"SELECT address, sum(value) FROM ({UNSPENT}) GROUP BY address"))
        out: list[dict[str, Any]] = []
        for members, links in found.values():
            if len(members) < minimum:
                continue
            out.append(
                {
                    "addresses": sorted(members),
                    "balance": int(sum(balances.get(a, 0) for a in members)),
                    "links": links,
                }
            )
        out.sort(key=lambda c: (-len(c["addresses"]), c["addresses"][0]))
        return {
            "clusters": out,
            "assumptions": COMMON_INPUT_ASSUMPTIONS + CHANGE_ASSUMPTIONS,
        }

    def richest(self, top: int = 10) -> dict[str, Any]:
        result = self.clusters(minimum=1)
        ranked = sorted(result["clusters"], key=lambda c: (-c["balance"], c["addresses"][0]))
        return {
            "clusters": [
                {"addresses": c["addresses"], "balance": c["balance"], "links": len(c["links"])}
                for c in ranked[:top]
            ],
            "assumptions": [
                "a cluster's balance is the unspent value of its addresses",
                *result["assumptions"],
            ],
        }

    def cluster_groups(self) -> dict[str, tuple[set[str], list[dict[str, Any]]]]:
        """Every address by cluster: root address -> (members, the links that joined them)."""
        parent: dict[str, str] = {}
        links: list[dict[str, Any]] = []

        def root(a: str) -> str:
            parent.setdefault(a, a)
            while parent[a] != a:
                parent[a] = parent[parent[a]]
                a = parent[a]
            return a

        def join(a: str, b: str, heuristic: str, txid: str) -> None:
            ra, rb = root(a), root(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
                links.append({"a": a, "b": b, "heuristic": heuristic, "txid": txid})

        everyone = "SELECT DISTINCT address FROM outputs WHERE address IS NOT NULL"
        for (address,) in self.rows(everyone):
            root(address)
        self._say("clustering: common inputs")
        common = self.rows(
            f"""
            SELECT txid, list(DISTINCT address ORDER BY address) FROM spends
            WHERE address IS NOT NULL AND txid NOT IN ({MULTI_PARTY_TXS})
            GROUP BY txid HAVING count(DISTINCT address) > 1
            ORDER BY min(height), txid
            """
        )
        for txid, addresses in common:
            for other in addresses[1:]:
                join(addresses[0], other, "common-input", txid)
        self._say("clustering: change outputs")
        change = self.rows(
            f"""
            WITH seen AS (
                SELECT o.address, arg_min(o.txid, o.height * 1048576 + t.position) AS first
                FROM outputs o JOIN txs t USING (txid)
                WHERE o.address IS NOT NULL GROUP BY o.address),
            per_tx AS (
                SELECT o.txid, count(DISTINCT o.address) AS n,
                       count(DISTINCT o.address) FILTER (WHERE s.first = o.txid) AS fresh,
                       min(o.address) FILTER (WHERE s.first = o.txid) AS change,
                       bool_or(s.first = o.txid AND o.lock_kind = 'policy') AS policy,
                       min(o.height) AS height
                FROM outputs o JOIN seen s USING (address)
                WHERE NOT o.is_coinbase GROUP BY o.txid),
            self_change AS (
                SELECT DISTINCT s.txid FROM spends s
                JOIN outputs o ON o.txid = s.txid AND o.address = s.address)
            SELECT p.txid, p.change, (SELECT min(address) FROM spends s WHERE s.txid = p.txid)
            FROM per_tx p
            WHERE p.n >= 2 AND p.fresh = 1 AND NOT p.policy
              AND p.txid NOT IN ({MULTI_PARTY_TXS})
              AND p.txid NOT IN (SELECT txid FROM self_change)
            ORDER BY p.height, p.txid
            """
        )
        for txid, address, spender in change:
            if spender is not None:
                join(spender, address, "change", txid)
        self._say("")
        groups: dict[str, tuple[set[str], list[dict[str, Any]]]] = {}
        for a in parent:
            groups.setdefault(root(a), (set(), []))[0].add(a)
        for link in links:
            groups[root(link["a"])][1].append(link)
        return groups


# The genesis block's output can never be spent and is in no coin set (as in Bitcoin).
UNSPENT = """
    SELECT o.* FROM outputs o
    LEFT JOIN spends s ON s.prev_txid = o.txid AND s.prev_vout = o.vout
    WHERE s.txid IS NULL AND o.height > 0
"""


CREDIT_ASSUMPTIONS = (
    "a loan is a coin locked to or(and(pk(borrower),pk(lender)), "
    "and(pk(lender),after(maturity))); it shows here once that coin is spent: "
    "until then the chain holds only the hash of its policy, so open loans "
    "are not listed",
    "repaid: borrower and lender signed the spend; on time: in a block below "
    "the maturity height; defaulted: the lender alone took the collateral "
    "after maturity",
    "principal is what the opening tx paid to the borrower's key, "
    "repaid_to_lender what the closing tx paid to the lender's key",
    "only loans under the keys given are listed: a wallet takes a new key per "
    "loan, so a borrower names all of them (loanstatus shows each loan's "
    "borrower key); no cluster is assumed",
    "no score is given: these counts are the evidence, each with its txids",
)


def _loan_entry(row: tuple[Any, ...]) -> dict[str, Any]:
    """One loan of a credit report, from a row of ``Analysis._loans_of``."""
    borrower, opened, closed, height, event, maturity, collateral, lender, principal, paid, at = row
    repaid = event == "repaid"
    return {
        "borrower": borrower,
        "status": "repaid" if repaid else "defaulted, claimed",
        "open_txid": opened,
        "open_height": at,
        "close_txid": closed,
        "close_height": height,
        "maturity": maturity,
        "on_time": height < maturity if repaid else False,
        "lender": lender,
        "collateral": int(collateral),
        "principal": int(principal),
        "repaid_to_lender": int(paid) if repaid else 0,
        "collateral_ratio": round(collateral / principal, 4) if principal else None,
    }
