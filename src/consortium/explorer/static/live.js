// Live updates for the explorer's index page, over the node's own API on the same origin:
// GET /ws (subscribe to newBlocks) and POST / (getBlockByNumber for the new block's transactions).
// Without this script the page is complete; with it, new blocks appear as they commit.
(function () {
  "use strict";
  var script = document.currentScript;
  var prefix = script.getAttribute("data-prefix");
  var seen = Number(script.getAttribute("data-height"));
  var names = JSON.parse(script.getAttribute("data-names") || "{}");
  var MAX_ROWS = 20;
  var badge = document.getElementById("live");
  var blocks = document.querySelector("#blocks tbody");
  var txs = document.querySelector("#transactions tbody");
  var rpcId = 0;

  function setState(text, cls) { badge.textContent = text; badge.className = "badge " + cls; }
  function short(h) { return h.length > 15 ? h.slice(0, 8) + "\u2026" + h.slice(-6) : h; }
  function iso(ms) { return new Date(ms).toISOString(); }
  function cell(row, content, title) {
    var td = document.createElement("td");
    if (content instanceof Node) { td.appendChild(content); } else { td.textContent = content; }
    if (title) { td.title = title; td.className = "mono"; }
    row.appendChild(td);
    return td;
  }
  function link(href, text, title) {
    var a = document.createElement("a");
    a.href = href; a.textContent = text;
    if (title) { a.title = title; a.className = "mono"; }
    return a;
  }
  function prepend(tbody, row) {
    var empty = tbody.querySelector("tr.empty");
    if (empty) { empty.remove(); }
    row.className = "fresh";
    tbody.insertBefore(row, tbody.firstChild);
    while (tbody.rows.length > MAX_ROWS) { tbody.deleteRow(tbody.rows.length - 1); }
  }

  function rpc(method, params) {
    return fetch("/", {method: "POST", headers: {"Content-Type": "application/json"},
                       body: JSON.stringify({jsonrpc: "2.0", id: ++rpcId, method: method, params: params})})
      .then(function (r) { return r.json(); })
      .then(function (doc) { if (doc.error) { throw new Error(doc.error.message); } return doc.result; });
  }

  function addTransactions(number) {
    return rpc("getBlockByNumber", [number, true]).then(function (block) {
      return Promise.all(block.transactions.map(function (tx) {
        return rpc("getTransactionReceipt", [tx.hash]).then(function (receipt) { return [tx, receipt]; });
      }));
    }).then(function (pairs) {
      pairs.forEach(function (pair) {
        var tx = pair[0], receipt = pair[1];
        var row = document.createElement("tr");
        cell(row, link(prefix + "/tx/" + tx.hash, short(tx.hash), tx.hash));
        cell(row, link(prefix + "/block/" + number, String(number)));
        cell(row, (tx.to ? names[tx.to.toLowerCase()] || short(tx.to) : "(deploy)") + "." + tx.method);
        cell(row, short(tx.from), tx.from);
        var status = document.createElement("span");
        status.textContent = receipt ? receipt.statusName : "";
        status.className = "badge " + (receipt && receipt.status === 0 ? "ok" : "bad");
        cell(row, status);
        prepend(txs, row);
      });
      document.getElementById("total-txs").textContent =
        String(Number(document.getElementById("total-txs").textContent) + pairs.length);
    });
  }

  function onBlock(h) {
    if (h.number <= seen) { return; }
    seen = h.number;
    var head = document.getElementById("head");
    head.textContent = String(h.number);
    head.href = prefix + "/block/" + h.number;
    var row = document.createElement("tr");
    row.setAttribute("data-number", String(h.number));
    cell(row, link(prefix + "/block/" + h.number, String(h.number)));
    cell(row, iso(h.timestamp));
    cell(row, String(h.transactionCount));
    cell(row, h.signatures.length + "/" + h.sealerList.length);
    cell(row, short(h.hash), h.hash);
    prepend(blocks, row);
    if (h.transactionCount > 0) {
      addTransactions(h.number).catch(function (e) { console.warn("explorer: transactions of block", h.number, e); });
    }
  }

  var delay = 1000;
  function connect() {
    var ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
    ws.onopen = function () {
      delay = 1000;
      ws.send(JSON.stringify({jsonrpc: "2.0", id: 1, method: "subscribe", params: ["newBlocks"]}));
    };
    ws.onmessage = function (ev) {
      var msg = JSON.parse(ev.data);
      if (msg.id === 1 && msg.result) { setState("live", "ok"); return; }
      if (msg.method === "subscription" && msg.params && msg.params.result) { onBlock(msg.params.result); }
    };
    ws.onclose = function () {
      setState("reconnecting", "wait");
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }
  if ("WebSocket" in window) { connect(); }
})();
