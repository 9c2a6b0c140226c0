// Live updates: one EventSource per tab on the agent's stream (/live/stream). The stream says
// what changed (a ticket event, the view counts, the bell, who else is on this ticket); pages
// fetch the changed part themselves, so every list and field is rendered by the same server code
// with the viewer's permissions. The browser resends the last event id when it reconnects; if it
// gives up (the server was away), we open a new stream from the last id we saw. Events can come
// twice around a reconnect; they are dropped by id.
(function () {
  "use strict";
  var body = document.body;
  var url = body.dataset.liveUrl;
  if (!url || !window.EventSource) { return; }
  var lastId = body.dataset.liveSince || "";
  var ticketNumber = body.dataset.liveTicket || "";
  var me = body.dataset.userId || "";
  var seen = new Set();
  var seenOrder = [];
  var source = null;
  var retryMs = 1000;

  function remember(id) {
    seen.add(id);
    seenOrder.push(id);
    if (seenOrder.length > 2000) { seen.delete(seenOrder.shift()); }
  }

  function announce(name, detail) {
    body.dispatchEvent(new CustomEvent(name, { detail: detail }));
  }

  function setState(state) { body.dataset.live = state; }

  function onTicket(event) {
    if (event.lastEventId) { lastId = event.lastEventId; }
    var data = JSON.parse(event.data);
    if (seen.has(data.id)) { return; }
    remember(data.id);
    announce("patron:ticket", data);
  }

  function onCounts(event) {
    var counts = JSON.parse(event.data);
    document.querySelectorAll(".count[data-view]").forEach(function (span) {
      var value = counts[span.dataset.view];
      if (value !== undefined && value !== null) { span.textContent = String(value); }
    });
  }

  function onBell(event) {
    var unread = JSON.parse(event.data).unread;
    var bell = document.getElementById("notification-bell");
    if (!bell) { return; }
    var badge = bell.querySelector(".bell-count");
    if (unread > 0) {
      if (!badge) {
        badge = document.createElement("span");
        badge.className = "bell-count";
        badge.setAttribute("aria-hidden", "true");
        bell.insertBefore(badge, bell.querySelector(".visually-hidden"));
      }
      badge.textContent = String(unread);
    } else if (badge) {
      badge.remove();
    }
    var label = bell.querySelector(".visually-hidden");
    if (label) { label.textContent = unread + " unread notification" + (unread === 1 ? "" : "s"); }
  }

  function onPresence(event) {
    var box = document.getElementById("presence");
    if (box) { box.innerHTML = event.data; }
  }

  function connect() {
    var query = new URLSearchParams();
    if (lastId) { query.set("since", lastId); }
    if (ticketNumber) { query.set("ticket", ticketNumber); }
    if (body.dataset.liveCounts) { query.set("counts", "1"); }
    source = new EventSource(url + "?" + query.toString());
    source.addEventListener("open", function () { retryMs = 1000; setState("open"); });
    source.addEventListener("ticket", onTicket);
    source.addEventListener("counts", onCounts);
    source.addEventListener("bell", onBell);
    source.addEventListener("presence", onPresence);
    source.addEventListener("error", function () {
      if (source.readyState === EventSource.CLOSED) {
        // The browser gave up (the server answered with an error or was gone): start again.
        setState("closed");
        window.setTimeout(connect, retryMs);
        retryMs = Math.min(retryMs * 2, 30000);
      } else {
        setState("reconnecting");
      }
    });
  }

  // Collapse a burst of events into one refresh.
  function debounce(fn, ms) {
    var timer = null;
    return function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(fn, ms);
    };
  }

  function fetchHtml(target, headers) {
    return fetch(target, { credentials: "same-origin", headers: headers || {} }).then(function (r) {
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.text();
    });
  }

  // The inbox: re-render the list (the view, sort and page as shown), keeping ticked boxes and
  // the keyboard's current row.
  var table = document.getElementById("inbox-table");
  if (table) {
    var refreshList = debounce(function () {
      var ticked = Array.from(table.querySelectorAll("input[name=tickets]:checked")).map(function (box) { return box.value; });
      var current = table.querySelector("tr[aria-selected=true]");
      var currentNumber = current ? current.dataset.ticket : null;
      fetchHtml(window.location.pathname + window.location.search, { "HX-Request": "true" }).then(function (html) {
        table.innerHTML = html;
        ticked.forEach(function (value) {
          var box = table.querySelector('input[name=tickets][value="' + value + '"]');
          if (box) { box.checked = true; }
        });
        if (currentNumber) {
          var row = table.querySelector('tr[data-ticket="' + currentNumber + '"]');
          if (row) { row.setAttribute("aria-selected", "true"); }
        }
        if (window.htmx) { window.htmx.process(table); }
        announce("patron:list-refreshed", {});
      }).catch(function () { /* the next event refreshes again */ });
    }, 200);
    body.addEventListener("patron:ticket", refreshList);
  }

  // The ticket page: re-render the conversation, header, fields, customer card and timeline when
  // this ticket changes, never the composer (its draft and the id of the last message read stay).
  if (ticketNumber) {
    var parts = ["ticket-meta", "conversation", "ticket-sidebar", "customer-context", "timeline-summary", "timeline-list"];
    var refreshTicket = debounce(function () {
      fetchHtml(window.location.pathname + window.location.search).then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        parts.forEach(function (id) {
          var old = document.getElementById(id);
          var replacement = fresh.getElementById(id);
          if (!old || !replacement) { return; }
          if (old.contains(document.activeElement)) { return; }  // someone is editing there
          old.replaceWith(replacement);
          if (window.htmx) { window.htmx.process(replacement); }
        });
        announce("patron:ticket-refreshed", {});
      }).catch(function () { /* the next event refreshes again */ });
    }, 150);
    body.addEventListener("patron:ticket", function (event) {
      var data = event.detail;
      if (String(data.ticket) !== ticketNumber) { return; }
      refreshTicket();
      var composer = document.getElementById("composer");
      var text = composer ? composer.querySelector("textarea[name=body]") : null;
      var fromSomeoneElse = String(data.actor_id || "") !== me;
      if (data.kind === "message_added" && data.public && fromSomeoneElse && text && text.value.trim()) {
        var warning = document.getElementById("new-message-warning");
        if (!warning) {
          warning = document.createElement("p");
          warning.id = "new-message-warning";
          warning.className = "notice";
          warning.setAttribute("role", "alert");
          composer.insertBefore(warning, composer.firstChild);
        }
        warning.textContent = "A new message from " + data.actor + " arrived while you were typing. Read it before you send.";
      }
    });
  }

  // SLA badges count down: while the tab is shown and a clock on it runs, re-render the list or
  // the ticket's parts every few seconds (the server words the time left in the policy's terms,
  // business time and its calendar included). This also shows a clock the background consumer
  // finished (a first reply achieved) without waiting for the ticket's next event.
  var slaRefreshMs = (parseInt(body.dataset.slaRefresh, 10) || 30) * 1000;
  window.setInterval(function () {
    if (document.visibilityState !== "visible") { return; }
    if (!document.querySelector(".sla.ok, .sla.warning, .sla.breached")) { return; }
    if (table) { refreshList(); }
    if (ticketNumber) { refreshTicket(); }
  }, slaRefreshMs);

  window.patronLive = {
    lastId: function () { return lastId; },
    state: function () { return body.dataset.live || ""; },
  };
  setState("connecting");
  connect();
})();
