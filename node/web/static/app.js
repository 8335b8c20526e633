/* obol explorer: a single page over this node's /rest API, kept live by /events.
 *
 * Plain JavaScript, no framework and no build step. The DOM is only ever built with
 * createElement and textContent (never innerHTML), so no chain data can become markup;
 * the server's Content-Security-Policy backs that up. Routes live in the URL hash:
 * #/, #/block/<hash|height>, #/tx/<txid>, #/address/<address>, #/mempool, #/peers.
 */
'use strict';

const RECENT_BLOCKS = 12;
const SERIES_BLOCKS = 200;
const FEED_SIZE = 40;
const COIN_DECIMALS = 8;

const state = {
  status: null,        // last /rest/status.json
  clockOffset: 0,      // the node's clock minus the browser's, seconds
  feed: [],            // newest first
  route: null,         // {name, arg}
  renderToken: 0,      // a newer navigation makes older renders give up
  topHeight: null,     // highest block shown in the recent table, to flash new rows
  socket: null,
  retryDelay: 1000,
  reconnecting: false, // after a drop, reload what changed while the socket was down
};

/* --- small helpers ------------------------------------------------------------------ */

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function clear(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(path) {
  const response = await fetch(path, { headers: { Accept: 'application/json' }, cache: 'no-store' });
  let body = null;
  try {
    body = await response.json();
  } catch (err) {
    body = null;
  }
  if (!response.ok) {
    throw new ApiError(response.status, (body && body.error) || response.statusText);
  }
  return body;
}

const pad2 = (n) => String(n).padStart(2, '0');

function formatTime(seconds) {
  const d = new Date(seconds * 1000);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ` +
    `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

function formatClock(seconds) {
  const d = new Date(seconds * 1000);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

function nodeNow() {
  // Ages count against the node's clock (setmocktime moves it), not the browser's.
  return Date.now() / 1000 + state.clockOffset;
}

function timeAgo(seconds) {
  const delta = Math.max(0, nodeNow() - seconds);
  if (delta < 60) return `${Math.floor(delta)} s ago`;
  if (delta < 3600) return `${Math.floor(delta / 60)} min ago`;
  if (delta < 86400) return `${Math.floor(delta / 3600)} h ago`;
  return `${Math.floor(delta / 86400)} d ago`;
}

function amount(value) {
  return Number(value).toFixed(COIN_DECIMALS);
}

function signedAmount(value) {
  const n = Number(value);
  return (n > 0 ? '+' : '') + n.toFixed(COIN_DECIMALS);
}

function amountEl(value, extraClass) {
  return h('span', { class: `nowrap ${extraClass || ''}`.trim() }, amount(value), h('span', { class: 'muted' }, ' OBOL'));
}

function number(n) {
  return Number(n).toLocaleString('en-US');
}

function bytes(n) {
  if (n < 1000) return `${n} B`;
  if (n < 1e6) return `${(n / 1000).toFixed(1)} kB`;
  return `${(n / 1e6).toFixed(2)} MB`;
}

function scaled(value, unit) {
  if (value === null || value === undefined) return '–';
  const prefixes = ['', 'k', 'M', 'G', 'T', 'P', 'E'];
  let v = Number(value);
  if (v !== 0 && Math.abs(v) < 0.01) return `${v.toExponential(1)} ${unit}`;
  let i = 0;
  while (Math.abs(v) >= 1000 && i < prefixes.length - 1) {
    v /= 1000;
    i += 1;
  }
  let digits = v >= 100 ? 0 : v >= 10 ? 1 : 2;
  if (i === 0 && Number.isInteger(v)) digits = 0;
  return `${v.toFixed(digits)} ${prefixes[i]}${unit}`;
}

function difficultyText(d) {
  if (d === 0) return '0';
  if (d < 0.001) return Number(d).toExponential(3);
  if (d < 1000) return Number(d).toPrecision(4).replace(/\.?0+$/, '');
  return scaled(d, '');
}

function shortHash(hash, keep) {
  const n = keep || 10;
  return hash.length > 2 * n + 1 ? `${hash.slice(0, n)}…${hash.slice(-n)}` : hash;
}

const link = {
  block: (id, text) => h('a', { href: `#/block/${id}`, class: 'mono' }, text || shortHash(String(id))),
  tx: (id, text) => h('a', { href: `#/tx/${id}`, class: 'mono' }, text || shortHash(id)),
  address: (addr, text) => h('a', { href: `#/address/${addr}`, class: 'mono' }, text || addr),
};

function panel(title, note, ...body) {
  return h('section', { class: 'panel' },
    h('div', { class: 'panel-head' }, h('h2', { text: title }), note ? h('span', { class: 'muted' }, note) : null),
    body);
}

function table(headers, rows, emptyText) {
  if (!rows.length) return h('div', { class: 'empty', text: emptyText || 'Nothing here yet.' });
  return h('div', { class: 'table-scroll' },
    h('table', {},
      h('thead', {}, h('tr', {}, headers.map(([label, cls]) => h('th', { class: cls || null, text: label })))),
      h('tbody', {}, rows)));
}

function kv(pairs) {
  return h('div', { class: 'kv' }, pairs.filter(Boolean).map(([k, v]) => [
    h('div', { class: 'k', text: k }),
    h('div', { class: 'v' }, v),
  ]));
}

function card(label, value, opts) {
  const o = opts || {};
  return h('div', { class: `card ${o.primary ? 'primary' : ''}`.trim() },
    h('div', { class: 'stat-label', text: label }),
    h('div', { class: 'stat-value', 'data-field': o.field || null }, value),
    o.sub ? h('div', { class: 'stat-sub' }, o.sub) : null);
}

function pageTitle(title, ...extra) {
  return h('div', { class: 'page-title' }, h('h1', { text: title }), extra);
}

/* --- header status ------------------------------------------------------------------ */

async function refreshStatus() {
  const s = await api('/rest/status.json');
  state.status = s;
  state.clockOffset = s.now - Date.now() / 1000;
  const tipHeight = document.getElementById('tip-height');
  tipHeight.textContent = number(s.blocks);
  tipHeight.href = `#/block/${s.bestblockhash}`;
  const tipHash = document.getElementById('tip-hash');
  tipHash.textContent = shortHash(s.bestblockhash, 14);
  tipHash.title = s.bestblockhash;
  tipHash.href = `#/block/${s.bestblockhash}`;
  tipHash.dataset.hash = s.bestblockhash;
  document.getElementById('tip-time').textContent = formatTime(s.time);
  document.getElementById('tip-age').textContent = timeAgo(s.time);
  document.getElementById('network').textContent = s.chain;
  document.getElementById('peer-count').textContent = number(s.peers);
  document.getElementById('node-version').textContent = s.subversion;
  document.getElementById('mempool-count').textContent = `${number(s.mempool.size)} tx`;
  document.getElementById('mempool-bytes').textContent = bytes(s.mempool.bytes);
  document.getElementById('difficulty').textContent = difficultyText(s.difficulty);
  document.getElementById('hashrate').textContent = `network ${scaled(s.networkhashps, 'H/s')}`;
  document.getElementById('mining').textContent =
    s.mining ? `mining · ${scaled(s.localhashps, 'H/s')}` : 'not mining';
  document.title = `obol ${s.chain} · ${number(s.blocks)}`;
}

function tickAges() {
  if (state.status) document.getElementById('tip-age').textContent = timeAgo(state.status.time);
  for (const el of document.querySelectorAll('[data-ago]')) {
    el.textContent = timeAgo(Number(el.dataset.ago));
  }
}

/* --- live events -------------------------------------------------------------------- */

const timers = new Map();

function schedule(key, fn, delay) {
  if (timers.has(key)) return;
  timers.set(key, setTimeout(() => {
    timers.delete(key);
    Promise.resolve(fn()).catch((err) => console.warn(`refresh ${key} failed:`, err));
  }, delay === undefined ? 120 : delay));
}

function setLive(mode) {
  const el = document.getElementById('live');
  el.dataset.state = mode;
  el.textContent = { live: 'live', connecting: 'connecting', offline: 'reconnecting' }[mode];
}

function connectEvents() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const socket = new WebSocket(`${scheme}//${location.host}/events`);
  state.socket = socket;
  socket.addEventListener('open', () => {
    state.retryDelay = 1000;
    setLive('live');
    if (state.reconnecting) {
      schedule('status', refreshStatus, 0);
      schedule('view', refreshView, 0);
    }
  });
  socket.addEventListener('message', (msg) => {
    let event;
    try {
      event = JSON.parse(msg.data);
    } catch (err) {
      return;
    }
    onEvent(event);
  });
  socket.addEventListener('close', () => {
    state.reconnecting = true;
    setLive('offline');
    setTimeout(connectEvents, state.retryDelay);
    state.retryDelay = Math.min(state.retryDelay * 2, 15000);
  });
}

function onEvent(event) {
  state.feed.unshift(event);
  state.feed.length = Math.min(state.feed.length, FEED_SIZE);
  const chainMoved = ['block_connected', 'block_disconnected', 'reorg'].includes(event.type);
  const route = state.route ? state.route.name : '';
  schedule('status', refreshStatus);
  if (route === 'dashboard') {
    renderFeed(event);
    if (chainMoved) {
      schedule('blocks', refreshRecentBlocks);
      schedule('charts', refreshCharts, 300);
    }
  } else if (chainMoved && ['block', 'tx', 'address', 'mempool'].includes(route)) {
    schedule('view', refreshView, 400);
  } else if (event.type.startsWith('tx_') && route === 'mempool') {
    schedule('view', refreshView, 400);
  } else if (event.type.startsWith('peer_') && route === 'peers') {
    schedule('view', refreshView, 400);
  }
}

function describeEvent(event) {
  const type = event.type;
  if (type === 'block_connected') {
    return { kind: 'block', body: ['Block ', link.block(event.hash, `#${number(event.height)}`), ` connected · ${event.txs} tx`] };
  }
  if (type === 'block_disconnected') {
    const label = event.height === undefined ? shortHash(event.hash) : `#${number(event.height)}`;
    return { kind: 'warn', body: ['Block ', link.block(event.hash, label), ' disconnected'] };
  }
  if (type === 'reorg') {
    const body = [`Reorg of depth ${event.depth}`];
    if (event.fork_hash) {
      body.push(' from ', link.block(event.fork_hash, `#${number(event.fork_height)}`), ' · old tip ', link.block(event.old_tip));
    }
    body.push(' · new tip ', link.block(event.tip));
    return { kind: 'bad', body };
  }
  if (type === 'tx_accepted') {
    const how = event.source === 'reorg' ? ' back in the mempool (reorg)' : ' accepted';
    return { kind: 'tx', body: ['Tx ', link.tx(event.txid), how] };
  }
  if (type === 'tx_rejected') {
    return { kind: 'bad', body: ['Tx ', h('span', { class: 'mono', text: shortHash(event.txid) }), ' rejected: ', h('code', { text: event.reason })] };
  }
  if (type.startsWith('peer_')) {
    const who = event.addr || event.address || (event.id === undefined ? 'a peer' : `#${event.id}`);
    const direction = event.inbound === undefined ? '' : event.inbound ? ' (inbound)' : ' (outbound)';
    const kind = type === 'peer_connected' ? 'tx' : type === 'peer_banned' ? 'bad' : 'warn';
    return {
      kind,
      body: ['Peer ', h('span', { class: 'mono', text: who }), ` ${type.slice(5).replace(/_/g, ' ')}${direction}`,
        event.reason ? [': ', h('code', { text: event.reason })] : event.subver ? ` · ${event.subver}` : ''],
    };
  }
  const detail = Object.entries(event)
    .filter(([k]) => k !== 'type' && k !== 'time')
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`)
    .join(' ');
  return { kind: '', body: [type.replace(/_/g, ' '), detail ? ` · ${detail}` : ''] };
}

function feedItem(event, fresh) {
  const { kind, body } = describeEvent(event);
  return h('li', { class: fresh ? 'fresh' : null },
    h('span', { class: 'dot', 'data-kind': kind || null }),
    h('span', { class: 'what' }, body),
    h('span', { class: 'when', text: formatClock(event.time) }));
}

function renderFeed(newEvent) {
  const list = document.getElementById('feed');
  if (!list) return;
  if (!state.feed.length) {
    clear(list, h('li', { class: 'empty-feed muted' }, h('span'), h('span', { text: 'Waiting for blocks and transactions…' }), h('span')));
    return;
  }
  clear(list, state.feed.map((event) => feedItem(event, event === newEvent)));
}

/* --- charts ------------------------------------------------------------------------- */

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

/* A line chart on a canvas: points [{x, y}] with y null for gaps; hover shows a value.
   With options.band, each point also has lo and hi, drawn as a shaded band around y. */
function drawChart(canvas, points, options) {
  canvas.chart = { points, options };
  paintChart(canvas, null);
  if (!canvas.dataset.wired) {
    canvas.dataset.wired = '1';
    canvas.addEventListener('mousemove', (e) => {
      const rect = canvas.getBoundingClientRect();
      paintChart(canvas, e.clientX - rect.left);
    });
    canvas.addEventListener('mouseleave', () => paintChart(canvas, null));
  }
}

function paintChart(canvas, hoverX) {
  const { points, options } = canvas.chart;
  const dpr = window.devicePixelRatio || 1;
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  if (!width || !height) return;
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, width, height);
  const font = '11px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
  ctx.font = font;
  const muted = cssVar('--muted');
  const grid = cssVar('--chart-grid');
  const color = cssVar(options.color);

  const valid = points.filter((p) => p.y !== null && Number.isFinite(p.y));
  if (!valid.length) {
    ctx.fillStyle = muted;
    ctx.textAlign = 'center';
    ctx.fillText(options.emptyText || 'No data yet', width / 2, height / 2);
    return;
  }
  const ys = valid.flatMap((p) => (options.band ? [p.y, p.lo, p.hi] : [p.y]));
  let lo = Math.min(...ys);
  let hi = Math.max(...ys);
  if (lo === hi) {
    const spread = Math.abs(hi) * 0.1 || 1;
    lo -= spread;
    hi += spread;
  }
  lo = Math.max(0, lo - (hi - lo) * 0.08);
  hi += (hi - lo) * 0.08;
  const labels = [0, 1, 2, 3].map((i) => lo + ((hi - lo) * i) / 3);
  const left = 12 + Math.max(...labels.map((v) => ctx.measureText(options.format(v)).width));
  const right = width - 12;
  const top = 12;
  const bottom = height - 24;
  const x0 = points[0].x;
  const x1 = points[points.length - 1].x;
  const sx = (x) => (x1 === x0 ? (left + right) / 2 : left + ((x - x0) / (x1 - x0)) * (right - left));
  const sy = (y) => bottom - ((y - lo) / (hi - lo)) * (bottom - top);

  ctx.strokeStyle = grid;
  ctx.lineWidth = 1;
  ctx.fillStyle = muted;
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (const v of labels) {
    const y = Math.round(sy(v)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(left, y);
    ctx.lineTo(right, y);
    ctx.stroke();
    ctx.fillText(options.format(v), left - 6, y);
  }
  ctx.textBaseline = 'alphabetic';
  ctx.textAlign = 'left';
  ctx.fillText(`#${number(x0)}`, left, height - 6);
  ctx.textAlign = 'right';
  ctx.fillText(`#${number(x1)}`, right, height - 6);

  const gradient = ctx.createLinearGradient(0, top, 0, bottom);
  gradient.addColorStop(0, `${color}40`);
  gradient.addColorStop(1, `${color}00`);
  if (options.band) {
    ctx.beginPath();
    valid.forEach((p, i) => (i ? ctx.lineTo(sx(p.x), sy(p.hi)) : ctx.moveTo(sx(p.x), sy(p.hi))));
    for (let i = valid.length - 1; i >= 0; i -= 1) ctx.lineTo(sx(valid[i].x), sy(valid[i].lo));
    ctx.closePath();
    ctx.fillStyle = `${color}30`;
    ctx.fill();
  }
  let run = [];
  const runs = [];
  for (const p of points) {
    if (p.y === null || !Number.isFinite(p.y)) {
      if (run.length) runs.push(run);
      run = [];
    } else {
      run.push(p);
    }
  }
  if (run.length) runs.push(run);
  for (const r of runs) {
    ctx.beginPath();
    r.forEach((p, i) => (i ? ctx.lineTo(sx(p.x), sy(p.y)) : ctx.moveTo(sx(p.x), sy(p.y))));
    ctx.lineTo(sx(r[r.length - 1].x), bottom);
    ctx.lineTo(sx(r[0].x), bottom);
    ctx.closePath();
    ctx.fillStyle = gradient;
    ctx.fill();
    ctx.beginPath();
    r.forEach((p, i) => (i ? ctx.lineTo(sx(p.x), sy(p.y)) : ctx.moveTo(sx(p.x), sy(p.y))));
    ctx.strokeStyle = color;
    ctx.lineWidth = 2;
    ctx.lineJoin = 'round';
    ctx.stroke();
    if (r.length === 1) {
      ctx.fillStyle = color;
      ctx.beginPath();
      ctx.arc(sx(r[0].x), sy(r[0].y), 3, 0, Math.PI * 2);
      ctx.fill();
    }
  }

  if (hoverX === null) return;
  let best = null;
  for (const p of valid) {
    if (!best || Math.abs(sx(p.x) - hoverX) < Math.abs(sx(best.x) - hoverX)) best = p;
  }
  const px = sx(best.x);
  const py = sy(best.y);
  ctx.strokeStyle = muted;
  ctx.setLineDash([3, 3]);
  ctx.beginPath();
  ctx.moveTo(px, top);
  ctx.lineTo(px, bottom);
  ctx.stroke();
  ctx.setLineDash([]);
  ctx.fillStyle = color;
  ctx.beginPath();
  ctx.arc(px, py, 4, 0, Math.PI * 2);
  ctx.fill();
  const text = options.hover ? options.hover(best) : `#${number(best.x)}  ${options.format(best.y)}`;
  const tw = ctx.measureText(text).width + 14;
  const tx = Math.min(Math.max(px - tw / 2, left), right - tw);
  ctx.fillStyle = cssVar('--topbar');
  ctx.fillRect(tx, top, tw, 20);
  ctx.fillStyle = '#fff';
  ctx.textAlign = 'left';
  ctx.textBaseline = 'middle';
  ctx.fillText(text, tx + 7, top + 10);
}

const REGTEST_HASHRATE_NOTE = 'Not charted on regtest: every block is at the easiest target and '
  + 'comes when asked for, so work over time measures how often blocks were requested, not '
  + 'hashing. Devnet charts it.';

async function refreshCharts() {
  const diff = document.getElementById('chart-difficulty');
  let rate = document.getElementById('chart-hashrate');
  if (!diff) return;
  const chain = (state.status || await api('/rest/status.json')).chain;
  if (rate && chain === 'regtest') {
    rate.parentNode.replaceWith(h('div', { class: 'empty', id: 'hashrate-note', text: REGTEST_HASHRATE_NOTE }));
    rate = null;
  }
  const [d, r] = await Promise.all([
    api(`/rest/stats/difficulty.json?blocks=${SERIES_BLOCKS}`),
    rate ? api(`/rest/stats/hashrate.json?blocks=${SERIES_BLOCKS}`) : null,
  ]);
  drawChart(diff, d.map((p) => ({ x: p.height, y: p.difficulty })), {
    color: '--chart-line-2',
    format: difficultyText,
  });
  if (!rate) return;
  drawChart(rate, r.map((p) => ({ x: p.height, y: p.hashrate })), {
    color: '--chart-line',
    format: (v) => scaled(v, 'H/s'),
    emptyText: 'Blocks came too fast to estimate a hash rate',
  });
}

/* Charts of the node's last export (obol export): fee-rate percentiles, volume, UTXO age. */
async function refreshAnalytics() {
  const box = document.getElementById('analytics');
  if (!box) return;
  const data = await api('/rest/stats/analytics.json');
  if (!data.available) {
    clear(box, h('div', { class: 'empty', id: 'analytics-note', text: `Nothing to chart: ${data.reason}.` }));
    return;
  }
  const fee = h('canvas', { id: 'chart-feerate', 'aria-label': 'Fee rate percentiles per period' });
  const volume = h('canvas', { id: 'chart-volume', 'aria-label': 'Transactions per period' });
  const total = data.utxo_age.reduce((sum, b) => sum + b.utxos, 0) || 1;
  const ages = table([['Age (blocks)'], ['UTXOs', 'num'], ['Value', 'num'], ['Share']], data.utxo_age.map((b) => h('tr', {},
    h('td', { text: b.max_age === null ? `${number(b.min_age)}+` : `${number(b.min_age)}–${number(b.max_age)}` }),
    h('td', { class: 'num', text: number(b.utxos) }),
    h('td', { class: 'num' }, amountEl(b.value / 1e8)),
    h('td', {}, h('progress', { max: String(total), value: String(b.utxos) })))), 'No unspent outputs');
  const note = `export up to #${number(data.height)}, periods of ${number(data.every)} blocks`;
  clear(box,
    h('div', { class: 'grid-charts' },
      panel('Fee rate', `10th–90th percentile and median, units/byte; ${note}`, h('div', { class: 'chart' }, fee)),
      panel('Volume', `non-coinbase txs per period; ${note}`, h('div', { class: 'chart' }, volume))),
    panel('UTXO age', note, h('div', { id: 'utxo-age' }, ages)));
  const pts = data.volume.map((p) => ({
    x: p.first_height, y: p.feerate_percentiles['50'], lo: p.feerate_percentiles['10'], hi: p.feerate_percentiles['90'],
  }));
  drawChart(fee, pts, {
    color: '--chart-line',
    band: true,
    format: (v) => number(Math.round(v)),
    hover: (p) => `#${number(p.x)}  ${p.lo} / ${p.y} / ${p.hi}`,
    emptyText: 'No transactions in the export',
  });
  drawChart(volume, data.volume.map((p) => ({ x: p.first_height, y: p.txs })), {
    color: '--chart-line-2',
    format: (v) => number(Math.round(v)),
    emptyText: 'No transactions in the export',
  });
}

window.addEventListener('resize', () => {
  for (const canvas of document.querySelectorAll('canvas')) {
    if (canvas.chart) paintChart(canvas, null);
  }
});

/* --- views -------------------------------------------------------------------------- */

function blockRows(blocks) {
  const previousTop = state.topHeight;
  if (blocks.length) state.topHeight = blocks[0].height;
  return blocks.map((b) => h('tr', { class: previousTop !== null && b.height > previousTop ? 'fresh' : null, 'data-height': b.height },
    h('td', {}, link.block(b.hash, number(b.height))),
    h('td', {}, link.block(b.hash, shortHash(b.hash, 12))),
    h('td', { class: 'nowrap muted', 'data-ago': b.time, title: formatTime(b.time), text: timeAgo(b.time) }),
    h('td', { class: 'num', text: number(b.nTx) }),
    h('td', { class: 'num', text: b.size === null ? '–' : bytes(b.size) })));
}

async function refreshRecentBlocks() {
  const body = document.getElementById('recent-blocks');
  if (!body) return;
  const blocks = await api(`/rest/blocks/recent.json?count=${RECENT_BLOCKS}`);
  clear(body, table([['Height'], ['Hash'], ['Age'], ['Txs', 'num'], ['Size', 'num']], blockRows(blocks), 'No blocks yet.'));
}

async function viewDashboard(view) {
  state.topHeight = null;
  clear(view,
    h('div', { class: 'grid-2' },
      panel('Latest blocks', 'updates live', h('div', { id: 'recent-blocks' }, h('div', { class: 'loading', text: 'Loading…' }))),
      panel('Live events', 'from /events', h('ul', { class: 'feed', id: 'feed' }))),
    h('div', { class: 'grid-charts' },
      panel('Difficulty', `last ${SERIES_BLOCKS} blocks`, h('div', { class: 'chart' }, h('canvas', { id: 'chart-difficulty', 'aria-label': 'Difficulty per block' }))),
      panel('Network hash rate', 'estimated from chainwork', h('div', { class: 'chart' }, h('canvas', { id: 'chart-hashrate', 'aria-label': 'Estimated network hash rate' })))),
    h('div', { id: 'analytics' }));
  renderFeed(null);
  await Promise.all([refreshRecentBlocks(), refreshCharts(), refreshAnalytics()]);
}

function ioList(items) {
  return h('ul', { class: 'io' }, items);
}

function inputItems(tx) {
  return tx.vin.map((vin) => {
    if (vin.coinbase !== undefined) {
      return h('li', {}, h('span', { class: 'addr muted', text: `Coinbase (new coins) · height ${vin.height}` }));
    }
    const prev = vin.prevout;
    const addr = prev && prev.scriptPubKey.address;
    const tag = spendTag(vin);
    return h('li', {},
      h('span', { class: 'addr' },
        addr ? link.address(addr) : link.tx(vin.txid, `${shortHash(vin.txid)}:${vin.vout}`)),
      prev || tag ? h('span', { class: 'amt' }, tag, prev ? amount(prev.value) : null) : null);
  });
}

// A policy spend names its policy and what its satisfaction used; an ALL|ANYONECANPAY
// signature (a crowdfunding pledge) says so.
function spendTag(vin) {
  if (vin.policy) {
    const used = vin.policy.used.map((u) => (u.sighash && u.sighash !== 'ALL' ? `${u.fragment} ${u.sighash}` : u.fragment));
    return h('span', { class: 'tag', title: `${vin.policy.text}\nused: ${used.join(', ')}`, text: 'policy' });
  }
  if (vin.sighash) return h('span', { class: 'tag', title: `signed ${vin.sighash}`, text: 'anyonecanpay' });
  return null;
}

function outputItems(tx) {
  return tx.vout.map((out) => {
    const addr = out.scriptPubKey.address;
    let tag = null;
    if (out.spentby) tag = h('a', { class: 'tag', href: `#/tx/${out.spentby}`, title: 'spent by this mempool tx' }, 'spending');
    else if (out.spent === true) tag = h('span', { class: 'tag', text: 'spent' });
    else if (out.spent === false) tag = h('span', { class: 'tag good', text: 'unspent' });
    return h('li', { class: out.spent ? 'spent' : null },
      h('span', { class: 'addr' }, addr ? link.address(addr) : h('span', { class: 'muted', text: out.scriptPubKey.hex })),
      h('span', { class: 'amt' }, tag, amount(out.value)));
  });
}

function txFlow(tx, heading) {
  return h('div', { class: 'tx' },
    heading,
    h('div', { class: 'tx-flow' },
      ioList(inputItems(tx)),
      h('div', { class: 'tx-arrow', text: '→' }),
      ioList(outputItems(tx))));
}

async function viewBlock(view, id, token) {
  let hash = id;
  if (/^\d+$/.test(id)) hash = (await api(`/rest/blockhashbyheight/${id}.json`)).blockhash;
  const b = await api(`/rest/block/${hash}.json`);
  if (token !== state.renderToken) return;
  const active = b.confirmations > 0;
  const prev = b.previousblockhash
    ? h('a', { class: 'button', href: `#/block/${b.previousblockhash}` }, '← Previous')
    : h('span', { class: 'button', 'aria-disabled': 'true' }, '← Previous');
  const next = b.nextblockhash
    ? h('a', { class: 'button', href: `#/block/${b.nextblockhash}` }, 'Next →')
    : h('span', { class: 'button', 'aria-disabled': 'true' }, 'Next →');
  clear(view,
    pageTitle(`Block ${number(b.height)}`,
      active ? h('span', { class: 'pill good', text: `${number(b.confirmations)} confirmation${b.confirmations === 1 ? '' : 's'}` })
        : h('span', { class: 'pill warn', text: 'not in the best chain' }),
      h('div', { class: 'pager' }, prev, next)),
    h('div', { class: 'page-id', id: 'block-hash', text: b.hash }),
    panel('Summary', null, kv([
      ['Time', [formatTime(b.time), h('span', { class: 'muted', text: ` · ${timeAgo(b.time)}` })]],
      ['Transactions', number(b.nTx)],
      ['Size', bytes(b.size)],
      ['Reward', amountEl(b.reward)],
      b.fees !== undefined ? ['Fees', amountEl(b.fees)] : null,
      ['Difficulty', difficultyText(b.difficulty)],
      ['Bits', h('span', { class: 'mono', text: b.bits })],
      ['Nonce', number(b.nonce)],
      ['Merkle root', h('span', { class: 'mono', text: b.merkleroot })],
      ['Chainwork', h('span', { class: 'mono', text: b.chainwork })],
      b.previousblockhash ? ['Previous block', link.block(b.previousblockhash, b.previousblockhash)] : null,
      b.nextblockhash ? ['Next block', link.block(b.nextblockhash, b.nextblockhash)] : null,
    ])),
    panel('Transactions', `${number(b.nTx)} in this block`,
      b.tx.map((tx, i) => txFlow(tx, h('div', { class: 'tx-head' },
        h('span', {}, h('span', { class: 'muted', text: `#${i} ` }), link.tx(tx.txid, tx.txid)),
        h('span', { class: 'muted' }, i === 0 ? 'coinbase' : tx.fee !== undefined ? ['fee ', amount(tx.fee)] : '', ` · ${bytes(tx.size)}`))))));
}

async function viewTx(view, txid, token) {
  const tx = await api(`/rest/tx/${txid}.json`);
  if (token !== state.renderToken) return;
  const coinbase = tx.vin.length && tx.vin[0].coinbase !== undefined;
  const status = tx.in_mempool
    ? h('span', { class: 'pill warn', text: 'unconfirmed · in mempool' })
    : h('span', { class: 'pill good', text: `${number(tx.confirmations)} confirmation${tx.confirmations === 1 ? '' : 's'}` });
  clear(view,
    pageTitle(coinbase ? 'Coinbase transaction' : 'Transaction', status),
    h('div', { class: 'page-id', id: 'tx-id', 'data-txid': tx.txid, text: tx.txid }),
    panel('Summary', null, kv([
      tx.in_mempool ? ['Status', 'Waiting in the mempool for a block']
        : ['Block', [link.block(tx.blockhash, `#${number(tx.blockheight)}`), ' ', h('span', { class: 'muted mono', text: shortHash(tx.blockhash, 12) })]],
      tx.time ? ['Time', [formatTime(tx.time), h('span', { class: 'muted', text: ` · ${timeAgo(tx.time)}` })]] : null,
      ['Total output', amountEl(tx.value_out)],
      tx.fee !== undefined ? ['Fee', [amountEl(tx.fee), h('span', { class: 'muted', text: ` · ${(Number(tx.fee) * 1e8 / tx.size).toFixed(1)} units/B` })]] : null,
      ['Size', bytes(tx.size)],
      ['Version · locktime', `${tx.version} · ${tx.locktime}`],
      ['wtxid', h('span', { class: 'mono', text: tx.hash })],
    ])),
    panel('Inputs and outputs', `${tx.vin.length} in · ${tx.vout.length} out`, txFlow(tx, null)),
    panel('Raw transaction', `${bytes(tx.size)}`, h('div', { class: 'panel-body mono break muted', text: tx.hex })));
}

async function viewAddress(view, address, token) {
  const a = await api(`/rest/address/${encodeURIComponent(address)}.json`);
  if (token !== state.renderToken) return;
  const utxoRows = a.utxos.map((u) => h('tr', {},
    h('td', {}, link.tx(u.txid, `${shortHash(u.txid)}:${u.vout}`)),
    h('td', {}, link.block(u.height, number(u.height))),
    h('td', { class: 'num', text: number(u.confirmations) }),
    h('td', {}, u.coinbase ? h('span', { class: 'pill', text: 'coinbase' }) : null,
      u.spentby ? [' ', h('span', { class: 'pill warn', text: 'spending' })] : null),
    h('td', { class: 'num' }, amount(u.value))));
  const historyRows = a.history.map((row) => h('tr', {},
    h('td', {}, link.tx(row.txid)),
    h('td', {}, link.block(row.blockhash, number(row.height))),
    h('td', { class: 'nowrap muted', title: formatTime(row.time), 'data-ago': row.time, text: timeAgo(row.time) }),
    h('td', { class: `num ${Number(row.delta) < 0 ? 'bad' : 'good'}`, text: signedAmount(row.delta) })));
  clear(view,
    pageTitle('Address', h('span', { class: 'pill', text: a.scriptPubKey.type })),
    h('div', { class: 'page-id', id: 'address-id', text: a.address }),
    h('div', { class: 'cards' },
      card('Balance', amount(a.balance), { primary: true, field: 'balance', sub: 'OBOL · confirmed' }),
      card('Spendable', amount(a.spendable), { field: 'spendable', sub: Number(a.immature) ? `OBOL · ${amount(a.immature)} immature` : 'OBOL · all mature' }),
      card('Unconfirmed', h('span', { class: Number(a.unconfirmed) < 0 ? 'bad' : null, text: signedAmount(a.unconfirmed) }), { field: 'unconfirmed', sub: `OBOL · ${a.mempool.length} mempool tx` }),
      card('Received', amount(a.received), { field: 'received', sub: 'OBOL in total' }),
      card('Sent', amount(a.sent), { field: 'sent', sub: 'OBOL in total' }),
      card('Transactions', number(a.tx_count), { field: 'tx-count', sub: `${number(a.utxo_count)} unspent outputs` })),
    a.mempool.length ? panel('Unconfirmed transactions', null, table([['Txid']], a.mempool.map((t) => h('tr', {}, h('td', {}, link.tx(t, t)))))) : null,
    panel('Unspent outputs', a.utxo_count > a.utxos.length ? `${a.utxos.length} of ${number(a.utxo_count)}` : `${number(a.utxo_count)} output${a.utxo_count === 1 ? '' : 's'}`,
      table([['Output'], ['Block'], ['Confirmations', 'num'], [''], ['Value', 'num']], utxoRows, 'No unspent outputs.')),
    panel('History', a.tx_count > a.history.length ? `newest ${a.history.length} of ${number(a.tx_count)}` : `${number(a.tx_count)} confirmed`,
      table([['Txid'], ['Block'], ['Age'], ['Change', 'num']], historyRows, 'No confirmed transactions.')));
}

async function viewMempool(view, _arg, token) {
  const [info, contents] = await Promise.all([api('/rest/mempool/info.json'), api('/rest/mempool/contents.json')]);
  if (token !== state.renderToken) return;
  const entries = Object.entries(contents).sort((x, y) => y[1].time - x[1].time);
  const rows = entries.map(([txid, e]) => h('tr', {},
    h('td', {}, link.tx(txid, shortHash(txid, 16))),
    h('td', { class: 'nowrap muted', 'data-ago': e.time, title: formatTime(e.time), text: timeAgo(e.time) }),
    h('td', { class: 'num', text: bytes(e.vsize) }),
    h('td', { class: 'num', text: amount(e.fees.base) }),
    h('td', { class: 'num', text: (Number(e.fees.base) * 1e8 / e.vsize).toFixed(1) }),
    h('td', { class: 'num', text: e.depends.length ? `${e.depends.length} parent` : '' })));
  clear(view,
    pageTitle('Mempool', h('span', { class: 'pill', text: 'updates live' })),
    h('div', { class: 'cards' },
      card('Transactions', number(info.size), { primary: true, field: 'mempool-size', sub: 'waiting for a block' }),
      card('Size', bytes(info.bytes), { sub: `${bytes(info.usage)} in memory` }),
      card('Total fees', amount(info.total_fee), { sub: 'OBOL' }),
      card('Minimum fee', amount(info.mempoolminfee), { sub: 'OBOL per kB to enter' })),
    panel('Waiting transactions', 'newest first',
      table([['Txid'], ['Seen'], ['Size', 'num'], ['Fee', 'num'], ['Units/B', 'num'], ['Depends', 'num']], rows, 'The mempool is empty.')));
}

function peerHeight(peer) {
  // getpeerinfo says -1 for a height not known yet, as Bitcoin Core does.
  const best = [peer.synced_headers, peer.synced_blocks, peer.startingheight].find((v) => v !== undefined && v >= 0);
  return best === undefined ? '–' : number(best);
}

async function viewPeers(view, _arg, token) {
  const [peers, bans] = await Promise.all([api('/rest/peers.json'), api('/rest/banned.json')]);
  if (token !== state.renderToken) return;
  const banRows = bans.map((b) => h('tr', {},
    h('td', { class: 'mono', text: b.address }),
    h('td', { class: 'nowrap muted', text: timeAgo(b.ban_created), 'data-ago': b.ban_created }),
    h('td', { class: 'nowrap', title: formatTime(b.banned_until), text: formatTime(b.banned_until) })));
  const rows = peers.map((p) => h('tr', {},
    h('td', { text: p.id }),
    h('td', { class: 'mono', text: p.addr }),
    h('td', {}, h('span', { class: 'pill', text: p.inbound ? 'inbound' : 'outbound' })),
    h('td', { class: 'mono', text: p.subver || '' }),
    h('td', { class: 'num', text: peerHeight(p) }),
    h('td', { class: 'num', text: p.pingtime !== undefined ? `${(p.pingtime * 1000).toFixed(0)} ms` : '–' }),
    h('td', { class: 'nowrap muted', text: p.conntime ? timeAgo(p.conntime) : '–', 'data-ago': p.conntime || null })));
  clear(view,
    pageTitle('Peers', h('span', { class: 'pill', text: `${peers.length} connected` })),
    panel('Connected peers', 'as getpeerinfo reports them',
      table([['Id'], ['Address'], ['Direction'], ['User agent'], ['Height', 'num'], ['Ping', 'num'], ['Connected']], rows,
        'No peers connected. Start another node with --connect to this one, or use addnode.')),
    panel('Banned', 'as listbanned reports them: misbehaving peers, setban, localnet partitions',
      table([['Address or node id'], ['Since'], ['Until']], banRows, 'Nobody is banned.')));
}

function viewNotFound(view) {
  clear(view, panel('Not found', null, h('div', { class: 'empty', text: 'There is no such page. Try the search box.' })));
}

const ROUTES = [
  [/^#?\/?$/, 'dashboard', viewDashboard],
  [/^#\/block\/([0-9a-fA-F]{64}|\d+)$/, 'block', viewBlock],
  [/^#\/tx\/([0-9a-fA-F]{64})$/, 'tx', viewTx],
  [/^#\/address\/([A-Za-z0-9]+)$/, 'address', viewAddress],
  [/^#\/mempool$/, 'mempool', viewMempool],
  [/^#\/peers$/, 'peers', viewPeers],
];

function currentRoute() {
  const hash = location.hash || '#/';
  for (const [pattern, name, view] of ROUTES) {
    const m = hash.match(pattern);
    if (m) return { name, arg: m[1], view };
  }
  return { name: 'notfound', arg: null, view: viewNotFound };
}

async function render(showLoading) {
  const route = currentRoute();
  state.route = route;
  const token = ++state.renderToken;
  for (const a of document.querySelectorAll('[data-nav]')) {
    a.classList.toggle('active', a.dataset.nav === route.name);
  }
  const view = document.getElementById('view');
  if (showLoading) clear(view, h('div', { class: 'loading', text: 'Loading…' }));
  try {
    await route.view(view, route.arg, token);
  } catch (err) {
    if (token !== state.renderToken) return;
    const message = err instanceof ApiError && err.status === 404
      ? `Not found: ${err.message}.`
      : `Could not load this page: ${err.message}`;
    clear(view, panel(err.status === 404 ? 'Not found' : 'Error', null, h('div', { class: 'empty', text: message })));
  }
}

function refreshView() {
  return render(false);
}

/* --- search ------------------------------------------------------------------------- */

function showSearchError(text) {
  const el = document.getElementById('search-error');
  el.textContent = text || '';
  el.hidden = !text;
}

async function onSearch(event) {
  event.preventDefault();
  const input = document.getElementById('search-input');
  const query = input.value.trim();
  if (!query) return;
  try {
    const found = await api(`/rest/search?q=${encodeURIComponent(query)}`);
    showSearchError(null);
    input.value = '';
    input.blur();
    const target = `#/${found.type}/${found.id}`;
    if (location.hash === target) render(true);
    else location.hash = target;
  } catch (err) {
    showSearchError(err.status === 404 ? `Nothing found for “${query}”.` : err.message);
  }
}

/* --- start -------------------------------------------------------------------------- */

function start() {
  document.getElementById('search').addEventListener('submit', onSearch);
  window.addEventListener('hashchange', () => {
    showSearchError(null);
    window.scrollTo(0, 0);
    render(true);
  });
  refreshStatus().catch((err) => console.warn('status failed:', err));
  render(true);
  connectEvents();
  setInterval(tickAges, 1000);
  // Without a live socket (a proxy that drops WebSockets), poll instead.
  setInterval(() => {
    if (!state.socket || state.socket.readyState !== WebSocket.OPEN) {
      schedule('status', refreshStatus, 0);
    }
  }, 5000);
}

start();
