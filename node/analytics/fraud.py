"""Fraud signals over an export: recent patterns worth a look, each explained and with the
txids that show it. A signal is not a verdict: each one also fits honest behaviour, and
says which.

- burst: one cluster (analyze.py's Meiklejohn clusters; a lone address is its own) spends
  in ``BURST_TXS`` or more txs within one span of ``BURST_SPAN`` blocks, and
  ``BURST_RATIO`` times its own average per span over the recent blocks or more (a
  cluster that is always this busy, an exchange say, is not an anomaly);
- peel chain: ``PEEL_HOPS`` or more txs in a row, each spending one coin into a small
  payment (at most ``PEEL_SHARE`` of the coin) and a remainder that the next one spends;
- campaign from one cluster: a crowdfunding claim two or more of whose pledges came from
  different addresses of one cluster (one owner looking like several backers).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pyarrow as pa

from .analyze import Analysis

BURST_TXS = 10
BURST_SPAN = 6
BURST_RATIO = 4
PEEL_HOPS = 4
PEEL_SHARE = 0.25
RECENT_BLOCKS = 1000
MAX_TXIDS = 50  # evidence listed per signal; the count says how many there were

THRESHOLDS = {
    "burst_txs": BURST_TXS,
    "burst_span_blocks": BURST_SPAN,
    "burst_ratio": BURST_RATIO,
    "peel_hops": PEEL_HOPS,
    "peel_share": PEEL_SHARE,
}
ASSUMPTIONS = [
    "clusters are analyze's (common-input and change heuristics, with their assumptions); "
    "a cluster that is really several owners can make a burst or a campaign signal appear",
    f"burst: {BURST_TXS} or more txs spending one cluster's coins within a span of "
    f"{BURST_SPAN} blocks (spans start at multiples of {BURST_SPAN}), and at least "
    f"{BURST_RATIO} times that cluster's average per span over the recent blocks; a "
    "payroll run or a merchant's sale day looks the same",
    f"peel chain: {PEEL_HOPS} or more one-in-two-out txs in a row, each paying at most "
    f"{PEEL_SHARE:.0%} of its coin and passing the rest to the next; a wallet paying many "
    "bills from one large coin looks the same",
    "campaign from one cluster: two or more pledges of one claim from different addresses "
    "of one cluster; a backer who pledges from two of its own wallets' addresses looks "
    "the same",
]


def fraud_signals(analysis: Analysis, recent: int = RECENT_BLOCKS) -> dict[str, Any]:
    """The signals whose last tx is in the last ``recent`` blocks, newest first."""
    tip = analysis.tip()
    since = max(0, tip - recent + 1)
    groups = analysis.cluster_groups()
    owner: dict[str, str] = {}
    for root, (members, _) in groups.items():
        for a in members:
            owner[a] = root
    analysis.con.register(
        "owners", pa.table({"address": list(owner), "cluster": list(owner.values())})
    )
    links = {root: found for root, (_, found) in groups.items()}
    signals = [
        *_bursts(analysis, since, tip, groups),
        *_peel_chains(analysis, since),
        *_campaigns(analysis, since, links),
    ]
    signals.sort(key=lambda s: (-s["height"], s["kind"], s["txids"][0]))
    return {
        "height": tip,
        "since_height": since,
        "signals": signals,
        "thresholds": THRESHOLDS,
        "assumptions": ASSUMPTIONS,
    }


def _bursts(
    analysis: Analysis, since: int, tip: int, groups: dict[str, Any]
) -> list[dict[str, Any]]:
    spans = tip // BURST_SPAN - since // BURST_SPAN + 1
    rows = analysis.rows(
        """
        WITH spent AS (
            SELECT DISTINCT s.txid, s.height, o.cluster FROM spends s
            JOIN owners o USING (address) WHERE s.height >= $since),
        per_span AS (
            SELECT cluster, min(height) AS first, max(height) AS last, count(*) AS n,
                   list(txid ORDER BY height, txid) AS txids
            FROM spent GROUP BY cluster, height // $span),
        usual AS (SELECT cluster, sum(n) / $spans AS mean FROM per_span GROUP BY cluster)
        SELECT cluster, first, last, n, txids, mean FROM per_span JOIN usual USING (cluster)
        WHERE n >= $least AND n >= $ratio * mean
        """,
        {
            "since": since,
            "span": BURST_SPAN,
            "spans": spans,
            "least": BURST_TXS,
            "ratio": BURST_RATIO,
        },
    )
    out = []
    for cluster, first, last, n, txids, mean in rows:
        members = sorted(groups[cluster][0])
        out.append(
            {
                "kind": "burst",
                "height": last,
                "explanation": (
                    f"{n} txs spent coins of one cluster ({len(members)} address"
                    f"{'es' if len(members) > 1 else ''}) between heights {first} and {last}, "
                    f"{n / mean:.0f} times its average of {mean:.1f} per {BURST_SPAN} blocks"
                ),
                "addresses": members,
                "txs": n,
                "txids": txids[:MAX_TXIDS],
            }
        )
    return out


def _peel_chains(analysis: Analysis, since: int) -> list[dict[str, Any]]:
    hops = analysis.rows(
        """
        SELECT t.txid, t.height, s.prev_txid, s.prev_vout, s.value,
               arg_max(o.vout, o.value * 4 + o.vout), min(o.value), arg_min(o.address, o.value)
        FROM txs t JOIN spends s USING (txid) JOIN outputs o USING (txid)
        WHERE t.n_inputs = 1 AND t.n_outputs = 2 AND NOT t.is_coinbase
        GROUP BY t.txid, t.height, s.prev_txid, s.prev_vout, s.value
        HAVING min(o.value) <= s.value * ?
        """,
        [PEEL_SHARE],
    )
    by_input = {(prev, vout): txid for txid, _, prev, vout, *_ in hops}
    info = {txid: (height, rest, paid, to) for txid, height, _, _, _, rest, paid, to in hops}
    following = {txid: by_input.get((txid, rest)) for txid, (_, rest, _, _) in info.items()}
    has_before = {t for t in following.values() if t is not None}
    out = []
    for start in sorted(t for t in info if t not in has_before):
        chain = [start]
        while (nxt := following[chain[-1]]) is not None:
            chain.append(nxt)
        last = info[chain[-1]][0]
        if len(chain) < PEEL_HOPS or last < since:
            continue
        first = info[chain[0]][0]
        out.append(
            {
                "kind": "peel_chain",
                "height": last,
                "explanation": (
                    f"{len(chain)} txs in a row between heights {first} and {last}, each "
                    "paying a small part of one coin and passing the rest on to the next"
                ),
                "payments": [
                    {"txid": t, "value": int(info[t][2]), "to": info[t][3]} for t in chain
                ],
                "txs": len(chain),
                "txids": chain[:MAX_TXIDS],
            }
        )
    return out


def _campaigns(analysis: Analysis, since: int, links: dict[str, Any]) -> list[dict[str, Any]]:
    rows = analysis.rows(
        """
        WITH claims AS (
            SELECT txid, max(height) AS height, any_value(payee) AS payee,
                   any_value(goal) AS goal, count(*) AS pledges
            FROM pledges WHERE height >= ? GROUP BY txid)
        SELECT c.txid, c.height, c.payee, c.goal, c.pledges, o.cluster,
               list(DISTINCT p.backer ORDER BY p.backer), count(*), sum(p.value)
        FROM claims c JOIN pledges p USING (txid) JOIN owners o ON o.address = p.backer
        GROUP BY ALL HAVING count(DISTINCT p.backer) >= 2
        ORDER BY c.height, c.txid
        """,
        [since],
    )
    out = []
    for txid, height, payee, goal, pledges, cluster, backers, n, value in rows:
        out.append(
            {
                "kind": "campaign_one_cluster",
                "height": height,
                "explanation": (
                    f"{n} of the {pledges} pledges claimed for {payee} came from "
                    f"{len(backers)} addresses of one cluster ({int(value)} of the goal "
                    f"{int(goal)})"
                ),
                "payee": payee,
                "backers": backers,
                "cluster_links": sorted({link["txid"] for link in links[cluster]})[:MAX_TXIDS],
                "txs": 1,
                "txids": [txid],
            }
        )
    return out


def _report(directory: Path) -> dict[str, Any]:
    return {"available": True, "directory": str(directory), **fraud_signals(Analysis(directory))}


async def fraud_report(directory: Path | None) -> dict[str, Any]:
    """The dashboard's fraud page data from the node's last export (as charts.py's)."""
    if directory is None:
        return {"available": False, "reason": "no export yet: run obol export --to DIR"}
    from .analyze import AnalyzeError

    try:
        return await asyncio.to_thread(_report, directory)
    except AnalyzeError as exc:
        return {"available": False, "reason": str(exc)}
