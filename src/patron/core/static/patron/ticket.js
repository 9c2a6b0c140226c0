// The ticket page: keep the composer's draft across navigation, and send a presence heartbeat
// ({typing}) so other agents see who is on the ticket (their pages learn it from the live
// stream, live.js). Plain JS; htmx does the rest.
(function () {
  "use strict";
  var script = document.getElementById("ticket-js");
  var form = document.getElementById("composer");
  if (!script) { return; }
  var number = script.dataset.ticket;
  var heartbeatMs = Math.max(1, parseInt(script.dataset.heartbeat || "10", 10)) * 1000;
  var draftKey = "patron:draft:" + number;
  var body = form ? form.querySelector("textarea[name=body]") : null;
  var lastInput = 0;

  function store(key, value) {
    try {
      if (value) { window.localStorage.setItem(key, value); } else { window.localStorage.removeItem(key); }
    } catch (error) { /* storage full or disabled: the draft is simply not kept */ }
  }

  if (body) {
    if (form.dataset.sent === "1") {
      store(draftKey, "");
    } else if (!body.value) {
      try { body.value = window.localStorage.getItem(draftKey) || ""; } catch (error) { body.value = ""; }
    }
    body.addEventListener("input", function () {
      lastInput = Date.now();
      store(draftKey, body.value);
    });
  }

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function heartbeat() {
    var typing = lastInput > 0 && Date.now() - lastInput < heartbeatMs;
    var data = new URLSearchParams({ typing: typing ? "1" : "0" });
    fetch(script.dataset.presenceUrl, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken() },
    }).then(function (response) {
      return response.ok ? response.text() : null;
    }).then(function (html) {
      var box = document.getElementById("presence");
      if (box && html !== null) { box.innerHTML = html; }
    }).catch(function () { /* offline: try again at the next beat */ });
  }

  heartbeat();
  window.setInterval(heartbeat, heartbeatMs);
})();
