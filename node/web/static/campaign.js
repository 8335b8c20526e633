/* A campaign's public page: /rest/campaign/<id>.json, redrawn on every campaign_updated
   and block_connected event from /events (polled every 5 s without a socket). */
'use strict';

(() => {
  const id = location.pathname.split('/').filter(Boolean).pop();
  const jsonUrl = `/rest/campaign/${encodeURIComponent(id)}.json`;
  const $ = (name) => document.getElementById(name);
  const text = (name, value) => { $(name).textContent = value; };
  const STATES = {
    open: 'open: collecting pledges',
    funded: 'funded: the goal is met',
    claimed: 'claimed',
    failed: 'failed',
    cancelled: 'cancelled',
  };

  function pledgeRow(p) {
    const row = document.createElement('tr');
    row.className = `pledge pledge-${p.status}`;
    for (const [value, cls] of [[p.id.slice(0, 16), 'break'], [`${p.amount} OBOL`, 'right'],
      [p.status, p.status === 'valid' ? 'good' : 'bad'], [p.reason, 'muted']]) {
      const cell = document.createElement('td');
      cell.className = cls;
      cell.textContent = value;
      row.appendChild(cell);
    }
    return row;
  }

  function render(c) {
    document.title = `${c.title} · obol campaign`;
    text('network', c.network);
    text('title', c.title);
    text('description', c.description);
    text('state', STATES[c.state] || c.state);
    $('state').dataset.state = c.state;
    const goal = Number(c.goal);
    const pct = goal > 0 ? Math.min(100, (100 * Number(c.pledged)) / goal) : 0;
    $('progress-fill').style.width = `${pct}%`;
    $('progress').setAttribute('aria-valuenow', String(Math.round(pct)));
    text('progress-text', `${c.pledged} of ${c.goal} OBOL pledged`);
    text('goal', `${c.goal} OBOL`);
    text('pledged', `${c.pledged} OBOL`);
    text('remaining', `${c.remaining} OBOL`);
    const left = c.deadline - c.height;
    text('deadline', `block ${c.deadline} (${left > 0 ? `${left} blocks from now` : 'passed'})`);
    text('payee', c.payee);
    text('claim', c.claim_txid || '–');
    text('command', c.pledge_command);
    const notice = $('notice');
    if (c.state === 'failed') {
      notice.textContent = 'The deadline passed without the goal. Nothing was taken: ' +
        "every backer's coins never left their wallets.";
      notice.hidden = false;
    } else {
      notice.hidden = true;
    }
    const rows = $('pledges');
    rows.replaceChildren(...c.pledges.map(pledgeRow));
    const valid = c.pledges.filter((p) => p.status === 'valid').length;
    text('pledge-count', `${valid} valid of ${c.pledges.length}`);
  }

  async function refresh() {
    try {
      const resp = await fetch(jsonUrl, { cache: 'no-store' });
      const body = await resp.json();
      if (!resp.ok) {
        text('title', body.error || 'campaign not found');
        return;
      }
      render(body);
    } catch (err) {
      text('progress-text', `cannot reach the node: ${err}`);
    }
  }

  $('copy').addEventListener('click', () => {
    navigator.clipboard.writeText($('command').textContent).catch(() => {});
  });

  let socket = null;
  function connect() {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    socket = new WebSocket(`${scheme}//${location.host}/events?types=campaign_updated,block_connected`);
    socket.onmessage = (msg) => {
      const event = JSON.parse(msg.data);
      if (event.type === 'block_connected' || event.id === id) refresh();
    };
    socket.onclose = () => { socket = null; setTimeout(connect, 3000); };
  }
  refresh();
  connect();
  setInterval(() => { if (!socket || socket.readyState !== WebSocket.OPEN) refresh(); }, 5000);
})();
