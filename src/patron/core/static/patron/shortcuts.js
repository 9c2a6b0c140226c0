// Keyboard shortcuts for agents. Plain JS, no dependencies; the keys are listed in the "?" dialog
// (patron/_shortcuts.html). Keys are ignored while typing in a field and with Ctrl/Alt/Meta held.
(function () {
  "use strict";

  function typingIn(target) {
    return !!target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  // Inbox: rows carry data-ticket in inbox_table.html; a row opens through its subject link.
  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll(".inbox-list tbody tr[data-ticket]"));
  }

  function currentRow() {
    return document.querySelector('.inbox-list tbody tr[data-ticket][aria-selected="true"]');
  }

  function selectRow(row) {
    rows().forEach(function (other) {
      if (other !== row) other.removeAttribute("aria-selected");
    });
    row.setAttribute("aria-selected", "true");
    var link = row.querySelector("a[href]");
    if (link) {
      link.focus();
    } else {
      row.tabIndex = -1;
      row.focus();
    }
    row.scrollIntoView({ block: "nearest" });
  }

  function moveRow(step) {
    var all = rows();
    if (!all.length) return false;
    var index = all.indexOf(currentRow());
    var next = index < 0 ? (step > 0 ? 0 : all.length - 1) : Math.min(all.length - 1, Math.max(0, index + step));
    selectRow(all[next]);
    return true;
  }

  function openRow() {
    var row = currentRow();
    if (!row) return false;
    var link = row.querySelector("a[href]");
    if (!link) return false;
    window.location.assign(link.href);
    return true;
  }

  function toggleRow() {
    var row = currentRow();
    var box = row && row.querySelector('input[type="checkbox"]');
    if (!box) return false;
    box.click(); // fires change, so the bulk bar updates as if clicked
    return true;
  }

  // Ticket page: the composer (#composer) and the sidebar forms, which htmx swaps: look up each time.
  function compose(kind) {
    var composer = document.getElementById("composer");
    if (!composer) return false;
    var radio = composer.querySelector('input[name="kind"][value="' + kind + '"]');
    if (radio && !radio.checked) radio.click();
    var body = composer.querySelector("textarea");
    if (body) body.focus();
    return true;
  }

  function setField(selectId, value) {
    var select = document.getElementById(selectId);
    if (!select || !value) return false;
    var found = Array.prototype.some.call(select.options, function (option) {
      return option.value === value;
    });
    if (!found) return false;
    if (select.value !== value) {
      select.value = value;
      var form = select.form;
      if (form.requestSubmit) form.requestSubmit();
      else form.submit();
    }
    return true;
  }

  function assignToMe() {
    return setField("field-assignee", document.body.getAttribute("data-user-id"));
  }

  // Help dialog: focus returns to where it was when the dialog closes (also on Escape).
  var returnFocus = null;

  function openHelp() {
    var dialog = document.getElementById("shortcuts-help");
    var template = document.getElementById("shortcuts-help-template");
    if (!dialog && template) {
      // Added on first use: until then its text is in no page's content.
      document.body.appendChild(template.content.cloneNode(true));
      dialog = document.getElementById("shortcuts-help");
    }
    if (!dialog || dialog.open) return false;
    returnFocus = document.activeElement;
    dialog.showModal();
    return true;
  }

  document.addEventListener("close", function (event) {
    if (event.target.id === "shortcuts-help" && returnFocus && returnFocus.focus) {
      returnFocus.focus();
      returnFocus = null;
    }
  }, true);

  var handlers = {
    j: function () { return moveRow(1); },
    k: function () { return moveRow(-1); },
    o: openRow,
    Enter: function (event) {
      // A focused link or button already does its own thing on Enter.
      if (event.target.closest && event.target.closest("a[href], button")) return false;
      return openRow();
    },
    x: toggleRow,
    r: function () { return compose("reply"); },
    n: function () { return compose("note"); },
    a: assignToMe,
    e: function () { return setField("field-status", "solved"); },
    "/": function () {
      var box = document.getElementById("topbar-q");
      if (!box) return false;
      box.focus();
      box.select();
      return true;
    },
    "?": openHelp,
  };

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.altKey || event.metaKey || event.isComposing) return;
    if (typingIn(event.target)) return;
    var dialog = document.getElementById("shortcuts-help");
    if (dialog && dialog.open) return; // the dialog handles its own keys (Escape closes it)
    var handler = Object.prototype.hasOwnProperty.call(handlers, event.key) && handlers[event.key];
    if (handler && handler(event)) event.preventDefault();
  });
})();
