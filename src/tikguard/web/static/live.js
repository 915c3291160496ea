// Live operation progress over Server-Sent Events. Without JavaScript the page still
// shows every event up to its load; with it, new stages append as they happen and the
// page reloads once at the end to show the outcome and its evidence.
(function () {
  "use strict";
  var list = document.getElementById("events");
  if (!list || list.dataset.done === "yes" || !window.EventSource) return;
  var live = document.getElementById("live");
  var op = list.dataset.op;
  var url = "/api/v1/operations/" + encodeURIComponent(op) + "/stream?after=" + (list.dataset.last || "0");
  var source = new EventSource(url);
  function time(iso) {
    var d = new Date(iso);
    return isNaN(d) ? "" : d.toTimeString().slice(0, 8);
  }
  source.addEventListener("stage", function (msg) {
    var e = JSON.parse(msg.data);
    var li = document.createElement("li");
    li.className = e.level;
    var t = document.createElement("time");
    t.textContent = time(e.at);
    var s = document.createElement("span");
    s.className = "stage";
    s.textContent = e.stage;
    var m = document.createElement("span");
    m.className = "msg";
    m.textContent = e.message;
    li.append(t, " ", s, " ", m);
    list.appendChild(li);
    list.dataset.last = e.seq;
    if (live) live.textContent = "Live: " + e.stage;
  });
  source.addEventListener("end", function (msg) {
    source.close();
    var end = JSON.parse(msg.data);
    var box = document.getElementById("outcome");
    if (box && end.outcome) box.innerHTML = '<span class="badge ' + end.outcome + '">' + end.outcome + "</span>";
    if (live) live.textContent = "Finished: " + (end.outcome || end.state);
    window.setTimeout(function () { window.location.reload(); }, 600);
  });
  source.onerror = function () {
    if (live) live.textContent = "Connection lost; retrying…";
  };
})();
