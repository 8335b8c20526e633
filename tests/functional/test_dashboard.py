"""The dashboard in a real headless Chromium against a real node process.

What a person sees: the tip updates by itself within 2 s of a new block (no reload), the
search box finds a tx by its id, an address page shows the address's balance. Screenshots
of every page are saved under ``test-artifacts/dashboard/`` for people to look at.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from consensus.address import encode_address
from consensus.params import REGTEST
from tests.chain_helpers import key, spend

from .browser import Browser, ChromiumUnavailable, find_chromium
from .framework import ROOT
from .test_node_blockchain import MINER_ADDR, OTHER, coinbase_utxo

ARTIFACTS = ROOT / "test-artifacts" / "dashboard"
OTHER_ADDR = encode_address(OTHER.lock, REGTEST)
THIRD = key(102)
COIN = 10**8


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Browser]:
    executable = find_chromium()
    if executable is None:
        pytest.skip(
            "no Chromium: install Debian's chromium package (.ci/run does) or set $CHROMIUM"
        )
    try:
        b = await Browser.launch(executable, tmp_path / "chromium-profile")
    except ChromiumUnavailable as exc:
        pytest.skip(f"{executable} cannot run here: {exc}")
    try:
        yield b
    finally:
        await b.close()


async def rpc(node, method: str, *params):
    """An RPC call off the event loop, so the DevTools connection keeps being read."""
    return await asyncio.to_thread(node.call, method, list(params))


async def text_of(browser: Browser, selector: str) -> str | None:
    return await browser.evaluate(
        f"(document.querySelector({json.dumps(selector)}) || {{}}).textContent || null"
    )


async def test_dashboard_live_search_and_address(start_nodes, browser):
    (node,) = start_nodes(1, [["--no-wallet"]])
    await rpc(node, "generatetoaddress", 101, MINER_ADDR)
    # A tx pays OTHER 10 OBOL; later another one pays 5 more and stays in the mempool.
    first = coinbase_utxo(node, 1)
    confirmed = spend(
        [first], [(10 * COIN, OTHER.lock), (first.value - 10 * COIN - 20_000, THIRD.lock)]
    )
    await rpc(node, "sendrawtransaction", confirmed.serialize().hex())
    await rpc(node, "generatetoaddress", 1, MINER_ADDR)

    await browser.navigate(node.url)
    await browser.wait_for("document.getElementById('tip-height').textContent === '102'")
    await browser.wait_for("document.getElementById('live').dataset.state === 'live'")
    await browser.wait_for("document.querySelectorAll('#recent-blocks tbody tr').length === 12")
    # A regtest hash rate would chart how often blocks were asked for: a note replaces it.
    await browser.wait_for("document.getElementById('hashrate-note') !== null")
    assert await browser.evaluate("document.getElementById('chart-hashrate') === null")
    await browser.evaluate("window.__sameDocument = true")

    # The tip follows a new block without a reload.
    (new_hash,) = await rpc(node, "generatetoaddress", 1, MINER_ADDR)
    mined_at = time.monotonic()
    await browser.wait_for(
        "document.getElementById('tip-height').textContent === '103'"
        f" && document.getElementById('tip-hash').dataset.hash === '{new_hash}'",
        timeout=2.0,
    )
    latency = time.monotonic() - mined_at
    assert latency < 2.0
    assert await browser.evaluate("window.__sameDocument === true"), "the page was reloaded"
    await browser.wait_for(
        "document.querySelector('#recent-blocks tbody tr').dataset.height === '103'", timeout=2.0
    )
    await browser.wait_for("document.querySelectorAll('#feed li .dot').length > 0", timeout=2.0)
    await asyncio.sleep(0.3)  # let the charts repaint before the picture
    await browser.screenshot(ARTIFACTS / "dashboard.png")

    # Until an export exists the analytics charts say so; after one, they chart it.
    assert "no export yet" in await text_of(browser, "#analytics-note")
    await rpc(node, "exportchain", str(node.datadir / "export"))
    await browser.navigate(node.url)
    await browser.wait_for("document.querySelectorAll('#utxo-age tbody tr').length === 6")
    charted = "document.getElementById('chart-{}').chart.points.filter((p) => p.y)"
    await browser.wait_for(f"{charted.format('feerate')}.length === 1")
    await browser.wait_for(f"{charted.format('volume')}.map((p) => p.y).join() === '1'")
    await asyncio.sleep(0.3)
    await browser.screenshot(ARTIFACTS / "analytics.png")

    second = coinbase_utxo(node, 2)
    pending = spend(
        [second], [(5 * COIN, OTHER.lock), (second.value - 5 * COIN - 30_000, THIRD.lock)]
    )
    await rpc(node, "sendrawtransaction", pending.serialize().hex())
    await browser.wait_for("document.getElementById('mempool-count').textContent === '1 tx'")

    # The search box finds a tx by its id (typed, then Enter).
    await browser.evaluate("document.getElementById('search-input').focus()")
    await browser.type_text(confirmed.txid_hex)
    await browser.press_enter()
    await browser.wait_for(
        f"(document.getElementById('tx-id') || {{dataset: {{}}}}).dataset.txid"
        f" === '{confirmed.txid_hex}'"
    )
    assert await browser.evaluate("location.hash") == f"#/tx/{confirmed.txid_hex}"
    assert "2 confirmations" in (await text_of(browser, ".page-title .pill"))
    await browser.screenshot(ARTIFACTS / "tx.png")

    # An unknown id says so, without leaving the page.
    await browser.evaluate("document.getElementById('search-input').focus()")
    await browser.type_text("ff" * 32)
    await browser.press_enter()
    await browser.wait_for("!document.getElementById('search-error').hidden")
    assert "Nothing found" in await text_of(browser, "#search-error")
    # So does a word that is no id or address at all, not an address decoder's complaint.
    await browser.evaluate("document.getElementById('search-error').hidden = true")
    await browser.evaluate("document.getElementById('search-input').value = ''")
    await browser.evaluate("document.getElementById('search-input').focus()")
    await browser.type_text("nonsense")
    await browser.press_enter()
    await browser.wait_for("!document.getElementById('search-error').hidden")
    assert "Nothing found for “nonsense”" in await text_of(browser, "#search-error")

    # An address page shows its balance, with what the mempool adds.
    await browser.evaluate(f"location.hash = '#/address/{OTHER_ADDR}'")
    await browser.wait_for(
        "(document.querySelector('[data-field=balance]') || {}).textContent === '10.00000000'"
    )
    assert await text_of(browser, "[data-field=unconfirmed]") == "+5.00000000"
    assert await text_of(browser, "#address-id") == OTHER_ADDR
    await browser.screenshot(ARTIFACTS / "address.png")

    # The other pages render too; the block page by height.
    await browser.evaluate("location.hash = '#/block/102'")
    await browser.wait_for("document.querySelectorAll('.tx').length === 2")
    assert confirmed.txid_hex in await text_of(browser, "main")
    await browser.screenshot(ARTIFACTS / "block.png")

    await browser.evaluate("location.hash = '#/mempool'")
    await browser.wait_for(
        f"document.querySelector('main').textContent.includes('{pending.txid_hex[:16]}')"
    )
    await browser.screenshot(ARTIFACTS / "mempool.png")

    await rpc(node, "setban", "10.1.2.3", "add")
    await browser.evaluate("location.hash = '#/peers'")
    await browser.wait_for("document.querySelector('main').textContent.includes('Connected peers')")
    await browser.wait_for("document.querySelector('main').textContent.includes('10.1.2.3')")
    await browser.screenshot(ARTIFACTS / "peers.png")

    # The dark theme follows the system's preference.
    await browser.send(
        "Emulation.setEmulatedMedia", features=[{"name": "prefers-color-scheme", "value": "dark"}]
    )
    await browser.evaluate("location.hash = '#/'")
    await browser.wait_for("document.querySelectorAll('#recent-blocks tbody tr').length === 12")
    await asyncio.sleep(0.3)
    await browser.screenshot(ARTIFACTS / "dashboard-dark.png")

    # Chromium logs every 404 as an error; the unknown search above is the only one allowed.
    allowed = ("/rest/search?q=" + "ff" * 32, "/rest/search?q=nonsense")
    unexpected = [e for e in browser.errors if not any(a in e for a in allowed)]
    assert unexpected == []


async def test_campaign_page_shows_progress_and_updates_without_reload(start_nodes, browser):
    (node,) = start_nodes(1)
    await rpc(node, "generate", 101)
    payee = await rpc(node, "getnewaddress")
    made = await rpc(node, "createcampaign", "A bridge", 10, payee, 500, "Over the river")
    await browser.navigate(made["url"])
    await browser.wait_for("document.getElementById('title').textContent === 'A bridge'")
    assert await text_of(browser, "#progress-text") == "0 of 10 OBOL pledged"
    assert await text_of(browser, "#state") == "open: collecting pledges"
    assert await text_of(browser, "#command") == f"obol wallet pledge {made['url']} AMOUNT"
    await browser.evaluate("window.__sameDocument = true")

    await rpc(node, "pledge", made["url"], 4)
    await browser.wait_for(
        "document.getElementById('progress-text').textContent === '4 of 10 OBOL pledged'"
    )
    assert await browser.evaluate("window.__sameDocument === true"), "the page was reloaded"
    assert (
        await browser.evaluate("document.querySelectorAll('#pledges tr.pledge-valid').length") == 1
    )
    assert await text_of(browser, "#deadline") == "block 500 (399 blocks from now)"
    await browser.screenshot(ARTIFACTS / "campaign.png")

    (pledge,) = await rpc(node, "listpledges")
    await rpc(node, "revokepledge", pledge["pledge"])
    await browser.wait_for("document.querySelectorAll('#pledges tr.pledge-dropped').length === 1")
    assert "(revoked or double-spent)" in await text_of(browser, "#pledges tr.pledge-dropped")
    assert await text_of(browser, "#progress-text") == "0 of 10 OBOL pledged"

    # Past the deadline short of the goal: failed, and the page says nothing moved.
    height = await rpc(node, "getblockcount")
    short = await rpc(node, "createcampaign", "Too late", 10, payee, height + 1)
    await rpc(node, "generate", 2)
    await browser.navigate(short["url"])
    await browser.wait_for("document.getElementById('state').textContent === 'failed'")
    assert "never left their wallets" in await text_of(browser, "#notice")
    assert await browser.evaluate("document.getElementById('notice').hidden") is False
    assert browser.errors == []
