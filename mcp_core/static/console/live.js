/* The console's live pages ("Heute", "Probleme"): the box refreshes its fragment when an
   event of its channels arrives on /ws/v2/events (authenticated by the admin session), and
   polls while the socket is down. Plain script, no dependencies, no build step.

   <div data-live-fragment="?partial=1" data-live-socket="/ws/v2/events"
        data-live-channels="branch.3 branch.4" data-poll-seconds="30"
        data-live-poll-seconds="120">…</div>
   The box's data-live-state says "live" or "polling" (the page's badge shows it). */
(function () {
  "use strict";
  var box = document.querySelector("[data-live-fragment]");
  if (!box) { return; }
  var badge = document.getElementById("console-live-state");
  var channels = (box.dataset.liveChannels || "").split(" ").filter(Boolean);
  var after = parseInt(box.dataset.liveAfter, 10);
  // Events committed after the page was rendered are replayed on the first subscribe.
  var lastEventId = isNaN(after) ? null : after;
  var socket = null;
  var retryMs = 1000;
  var pollTimer = null;
  var refreshTimer = null;
  var loading = false;
  var again = false;

  function setState(state) {
    box.dataset.liveState = state;
    if (badge) {
      badge.textContent = badge.dataset[state] || state;
      badge.className = "console-live-" + state;
    }
    schedulePolling();
  }

  function refresh() {
    // One request at a time; events arriving meanwhile ask for one more afterwards.
    if (loading) { again = true; return; }
    loading = true;
    fetch(box.dataset.liveFragment, {credentials: "same-origin", headers: {"X-Requested-With": "fetch"}})
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html !== null) {
          box.innerHTML = html;
          box.dataset.refreshed = String(Date.now());
        }
      })
      .catch(function () { /* the next event or poll tries again */ })
      .then(function () {
        loading = false;
        if (again) { again = false; refresh(); }
      });
  }

  function refreshSoon() {
    // A booking emits several events at once (created, then confirmed): one refresh for all.
    if (refreshTimer) { return; }
    refreshTimer = setTimeout(function () { refreshTimer = null; refresh(); }, 250);
  }

  function schedulePolling() {
    if (pollTimer) { clearInterval(pollTimer); }
    // Live, the poll only catches what has no event (a dead-lettered message, a failed SMS).
    var live = box.dataset.liveState === "live";
    var seconds = parseInt(live ? box.dataset.livePollSeconds : box.dataset.pollSeconds, 10);
    pollTimer = setInterval(refresh, 1000 * seconds);
  }

  function connect() {
    if (!channels.length || !("WebSocket" in window)) { setState("polling"); return; }
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + window.location.host + box.dataset.liveSocket);
    socket.onmessage = function (message) {
      var data = JSON.parse(message.data);
      if (data.type === "authenticated") {
        var subscribe = {type: "subscribe", channels: channels};
        if (lastEventId !== null) { subscribe.after = lastEventId; }
        socket.send(JSON.stringify(subscribe));
      } else if (data.type === "subscribed") {
        retryMs = 1000;
        setState("live");
        if (data.replayed) { refreshSoon(); }
      } else if (data.type === "event") {
        lastEventId = Math.max(lastEventId || 0, data.id);
        refreshSoon();
      }
    };
    socket.onclose = function (event) {
      socket = null;
      setState("polling");
      if (event.code === 4401) { return; }  // not allowed: polling only, as before
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 60000);
    };
  }

  setState("polling");
  connect();
})();
