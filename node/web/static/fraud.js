/* The fraud signals page: /rest/stats/fraud.json, each signal with links to its txs in
   the explorer (/#/tx/<txid>). Read once; reload the page after a new export. */
'use strict';

(() => {
  const $ = (name) => document.getElementById(name);
  const KINDS = {
    burst: 'burst of spends',
    peel_chain: 'peel chain',
    campaign_one_cluster: 'campaign from one cluster',
  };

  function cell(row, content, cls) {
    const td = document.createElement('td');
    if (cls) td.className = cls;
    if (typeof content === 'string') td.textContent = content;
    else td.append(...content);
    row.appendChild(td);
  }

  function txLinks(s) {
    const links = s.txids.map((txid) => {
      const a = document.createElement('a');
      a.href = `/#/tx/${txid}`;
      a.className = 'mono';
      a.textContent = txid.slice(0, 16);
      a.title = txid;
      const line = document.createElement('div');
      line.appendChild(a);
      return line;
    });
    if (s.txs > s.txids.length) {
      const more = document.createElement('div');
      more.className = 'muted';
      more.textContent = `and ${s.txs - s.txids.length} more`;
      links.push(more);
    }
    return links;
  }

  function render(data) {
    if (!data.available) {
      $('notice').textContent = `No signals to show: ${data.reason}.`;
      $('notice').hidden = false;
      $('reach').textContent = 'no export';
      return;
    }
    $('reach').textContent = `heights ${data.since_height}–${data.height}`;
    $('count').textContent = `${data.signals.length} found`;
    const rows = data.signals.map((s) => {
      const row = document.createElement('tr');
      cell(row, String(s.height));
      cell(row, KINDS[s.kind] || s.kind, 'bad');
      cell(row, s.explanation);
      cell(row, txLinks(s));
      return row;
    });
    $('signals').replaceChildren(...rows);
    $('assumptions').replaceChildren(...data.assumptions.map((a) => {
      const li = document.createElement('li');
      li.textContent = a;
      return li;
    }));
  }

  fetch('/rest/stats/fraud.json')
    .then((resp) => resp.json())
    .then(render)
    .catch((err) => {
      $('notice').textContent = `Could not read /rest/stats/fraud.json: ${err}`;
      $('notice').hidden = false;
    });
})();
