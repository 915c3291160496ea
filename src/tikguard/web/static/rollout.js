// Live wave board over Server-Sent Events. Without JavaScript the page shows the rollout
// as it was when loaded; with it, every router's status and outcome update as they land,
// and the continue/abort buttons follow the rollout's state.
(function () {
  "use strict";
  var board = document.getElementById("board");
  if (!board || board.dataset.done === "yes" || !window.EventSource) return;
  var live = document.getElementById("live");
  var url = "/api/v1/rollouts/" + encodeURIComponent(board.dataset.rollout) + "/stream";
  var source = new EventSource(url);
  function badge(cell, text, kind) {
    var span = document.createElement("span");
    span.className = "badge " + kind;
    span.textContent = text;
    cell.replaceChildren(span);
  }
  function show(r) {
    var state = document.getElementById("state");
    state.className = "badge " + r.state;
    state.textContent = r.state;
    var reason = document.getElementById("reason");
    reason.textContent = r.reason || "";
    reason.className = r.state === "halted" ? "error" : "muted";
    var gate = r.state === "waiting" || r.state === "halted";
    var finished = r.state === "completed" || r.state === "aborted";
    var cont = document.getElementById("continue-form");
    if (cont) cont.hidden = !gate;
    var abort = document.getElementById("abort-form");
    if (abort) abort.hidden = finished;
    r.targets.forEach(function (t) {
      var row = board.querySelector('tr[data-router="' + CSS.escape(t.router) + '"]');
      if (!row) return;
      if (t.outcome) badge(row.querySelector(".outcome"), t.outcome, t.outcome);
      else badge(row.querySelector(".outcome"), t.status, t.status === "submitted" ? "running" : "");
      row.querySelector(".reason").textContent = (t.reason || "").slice(0, 140);
      var op = row.querySelector(".op");
      if (t.operation && !op.firstChild) {
        var a = document.createElement("a");
        a.href = "/operations/" + encodeURIComponent(t.operation);
        a.textContent = "operation";
        op.appendChild(a);
      }
    });
    if (live) live.textContent = finished ? "Finished: " + r.state : "Live: " + r.state;
  }
  source.addEventListener("rollout", function (msg) { show(JSON.parse(msg.data)); });
  source.addEventListener("end", function () { source.close(); });
  source.onerror = function () { if (live) live.textContent = "Connection lost; retrying…"; };
})();
