/* Minqing: the shared behaviour of every page (no inline scripts: the CSP forbids them).
 *
 * - the ☰ menu button (aria-expanded) and selects that submit their form (data-autosubmit);
 * - feedback where the eye is: after a page load or an htmx swap, the first error (or else
 *   the message) is scrolled into view and focused;
 * - every submit shows a loading state and a second tap is ignored until the answer comes;
 * - the household picker ([data-picker]): search as you type, pick one, a hidden input
 *   carries its id. Visits, appeals and tips reuse it through registry/_household_picker.html.
 */
(function () {
  "use strict";

  function $(sel, root) { return (root || document).querySelector(sel); }
  function $all(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }

  // ------------------------------------------------------------------ menu
  function initMenu(root) {
    $all("button[data-menu]", root).forEach(function (button) {
      var menu = document.getElementById(button.getAttribute("aria-controls"));
      if (!menu) return;
      button.addEventListener("click", function () {
        var open = button.getAttribute("aria-expanded") !== "true";
        button.setAttribute("aria-expanded", open ? "true" : "false");
        menu.classList.toggle("open", open);
        if (open) { var first = $("a, button, select", menu); if (first) first.focus(); }
      });
      document.addEventListener("keydown", function (ev) {
        if (ev.key === "Escape" && button.getAttribute("aria-expanded") === "true") {
          button.click();
          button.focus();
        }
      });
    });
  }

  function initAutosubmit(root) {
    $all("select[data-autosubmit]", root).forEach(function (select) {
      select.addEventListener("change", function () {
        if (select.form.requestSubmit) select.form.requestSubmit(); else select.form.submit();
      });
    });
  }

  // ------------------------------------------------------------------ feedback in view
  function focusFeedback(root) {
    var target = $("[data-feedback]", root) || $(".form-errors", root) || $("p.error", root) ||
      ($("small.error", root) || {}).parentElement || $(".messages", root);
    if (!target) return false;
    if (!target.hasAttribute("tabindex")) target.setAttribute("tabindex", "-1");
    target.scrollIntoView({ block: "center" });
    target.focus({ preventScroll: true });
    return true;
  }

  // ------------------------------------------------------------------ busy forms
  function setBusy(form, busy) {
    if (busy) {
      form.dataset.busy = "1";
      form.setAttribute("aria-busy", "true");
    } else {
      delete form.dataset.busy;
      form.removeAttribute("aria-busy");
    }
    $all("button[type=submit], button:not([type])", form).forEach(function (b) {
      b.classList.toggle("loading", busy);
      if (busy) b.setAttribute("aria-disabled", "true"); else b.removeAttribute("aria-disabled");
    });
  }

  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (form.method && form.method.toLowerCase() === "get" && !form.hasAttribute("data-busy-get")) {
      return; // searches stay live; htmx marks them busy itself
    }
    if (form.dataset.busy) { ev.preventDefault(); ev.stopImmediatePropagation(); return; }
    setBusy(form, true);
  }, true);

  window.addEventListener("pageshow", function () {
    $all("form[data-busy]").forEach(function (f) { setBusy(f, false); });
  });

  // ------------------------------------------------------------------ household picker
  function initPickers(root) {
    $all("[data-picker]", root).forEach(function (box) {
      if (box.dataset.ready) return;
      box.dataset.ready = "1";
      var input = $("input[type=search]", box);
      var hidden = $("input[type=hidden]", box);
      var list = $(".picker-results", box);
      var picked = $(".picker-picked", box);
      var timer = null;
      var seq = 0;

      function render(items, q) {
        list.innerHTML = "";
        if (!items.length) {
          var none = document.createElement("p");
          none.className = "muted";
          none.textContent = box.dataset.empty.replace("%s", q);
          list.appendChild(none);
          return;
        }
        items.forEach(function (item) {
          var b = document.createElement("button");
          b.type = "button";
          b.className = "picker-option";
          b.setAttribute("data-id", item.id);
          var name = document.createElement("strong");
          name.textContent = item.name;
          var addr = document.createElement("span");
          addr.textContent = item.address;
          var num = document.createElement("small");
          num.className = "muted";
          num.textContent = item.grid + " · " + item.number;
          b.appendChild(name); b.appendChild(addr); b.appendChild(num);
          b.addEventListener("click", function () { choose(item); });
          list.appendChild(b);
        });
      }

      function choose(item) {
        hidden.value = item.id;
        hidden.dispatchEvent(new Event("change", { bubbles: true }));
        picked.hidden = false;
        $(".picker-label", picked).textContent = item.label;
        $(".picker-number", picked).textContent = item.number;
        list.innerHTML = "";
        input.value = "";
        var again = $("button", picked);
        if (again) again.focus();
      }

      function search() {
        var q = input.value.trim();
        if (!q) { list.innerHTML = ""; box.removeAttribute("aria-busy"); return; }
        var mine = ++seq;
        box.setAttribute("aria-busy", "true");
        fetch(box.dataset.url + "?q=" + encodeURIComponent(q), {
          headers: { "Accept": "application/json" }, credentials: "same-origin"
        }).then(function (r) { return r.json(); }).then(function (data) {
          if (mine !== seq) return;
          box.removeAttribute("aria-busy");
          render((data.items || []).filter(function (i) { return String(i.id) !== box.dataset.exclude; }), q);
        }).catch(function () { box.removeAttribute("aria-busy"); });
      }

      input.addEventListener("input", function () {
        clearTimeout(timer);
        timer = setTimeout(search, 250);
      });
      input.addEventListener("keydown", function (ev) {
        if (ev.key === "Enter") { ev.preventDefault(); clearTimeout(timer); search(); }
      });
      var change = $("button", picked);
      if (change) change.addEventListener("click", function () {
        hidden.value = "";
        picked.hidden = true;
        input.focus();
      });
    });
  }

  // ------------------------------------------------------------------ conditional fields
  // <div data-show-when="kind=transfer,in">: shown only while the named field has one of
  // the values (the move form shows the picker for 户间迁移 only).
  function initShowWhen(root) {
    $all("[data-show-when]", root).forEach(function (el) {
      var spec = el.getAttribute("data-show-when").split("=");
      var form = el.closest("form");
      if (!form) return;
      var values = spec[1].split(",");
      function update() {
        var field = form.elements[spec[0]];
        var v = field ? field.value : "";
        el.hidden = values.indexOf(v) < 0;
      }
      form.addEventListener("change", update);
      update();
    });
  }

  // <a data-back>: a "back" link that returns to the previous page
  document.addEventListener("click", function (ev) {
    var el = ev.target.closest && ev.target.closest("[data-back]");
    if (!el) return;
    ev.preventDefault();
    history.back();
  });

  // <button data-dismiss="ID">: hide that element (the message toast, once read)
  document.addEventListener("click", function (ev) {
    var b = ev.target.closest && ev.target.closest("[data-dismiss]");
    if (!b) return;
    var el = document.getElementById(b.getAttribute("data-dismiss"));
    if (el) el.hidden = true;
  });

  // <button data-fill="ID" data-value="V">: put V into the field with that id (a suggested
  // category chip fills the appeal's category)
  document.addEventListener("click", function (ev) {
    var b = ev.target.closest && ev.target.closest("[data-fill]");
    if (!b) return;
    var field = document.getElementById(b.getAttribute("data-fill"));
    if (!field) return;
    field.value = b.getAttribute("data-value") || "";
    field.dispatchEvent(new Event("change", { bubbles: true }));
  });

  // ------------------------------------------------------------------ links that keep the query
  // <a data-keep-query>: an export link takes the list's current filters from the address bar
  // (htmx pushes them there as the list refilters).
  document.addEventListener("click", function (ev) {
    var a = ev.target.closest && ev.target.closest("a[data-keep-query]");
    if (a) a.search = window.location.search;
  }, true);

  function init(root) {
    initMenu(root);
    initAutosubmit(root);
    initPickers(root);
    initShowWhen(root);
  }


  // ---------------------------------------------------------------- offline data on the phone
  // The offline visit page keeps what the server gave it per user: localStorage
  // "minqing.visits.<user>.pack" (masked households, due list) and ".conflicts", queued
  // visits in ".queue", queued photos in IndexedDB "minqing-visits", the page shell in
  // Cache Storage "minqing-visits-*". Logging out, or another user logging in on the same
  // phone, wipes the households, the due list and the caches; a visit or a photo still
  // queued (not sent yet) is kept for its own user only, never dropped (it is sent at their
  // next login). Logging out first tries to send them (on the offline page) and, if some
  // are still on the phone, says so and asks.
  var OFFLINE_PREFIX = "minqing.visits.";

  function queuedPhotos() {
    if (!window.indexedDB) return Promise.resolve([]);
    return new Promise(function (resolve) {
      var open = indexedDB.open("minqing-visits", 1);
      // no database yet: nothing queued (and none created by asking)
      open.onupgradeneeded = function () { open.transaction.abort(); };
      open.onerror = function () { resolve([]); };
      open.onsuccess = function () {
        var db = open.result;
        try {
          var req = db.transaction("photos", "readonly").objectStore("photos").getAll();
          req.onsuccess = function () { db.close(); resolve(req.result || []); };
          req.onerror = function () { db.close(); resolve([]); };
        } catch (e) { db.close(); resolve([]); }
      };
    });
  }

  function pendingOffline(user) {
    var queued = [];
    try { queued = JSON.parse(localStorage.getItem(OFFLINE_PREFIX + user + ".queue")) || []; } catch (e) { queued = []; }
    return queuedPhotos().then(function (photos) {
      var mine = photos.filter(function (p) { return !p.user || String(p.user) === String(user); });
      return { visits: queued.length, photos: mine.length };
    });
  }

  function wipeOffline(keepUser) {
    var keys = [];
    for (var i = 0; i < localStorage.length; i++) keys.push(localStorage.key(i));
    var users = {};
    keys.forEach(function (k) {
      if (k.indexOf(OFFLINE_PREFIX) !== 0) return;
      var rest = k.slice(OFFLINE_PREFIX.length).split(".");
      var user = rest[0], name = rest[1];
      if (name === "queue") {
        var queued = [];
        try { queued = JSON.parse(localStorage.getItem(k)) || []; } catch (e) { queued = []; }
        if (queued.length) { users[user] = true; return; }
      }
      if (user !== keepUser) localStorage.removeItem(k);
    });
    var jobs = [];
    if (window.caches) {
      jobs.push(caches.keys().then(function (names) {
        return Promise.all(names.filter(function (n) { return n.indexOf("minqing-visits") === 0; })
          .map(function (n) { return caches.delete(n); }));
      }).catch(function () {}));
    }
    if (window.indexedDB && !Object.keys(users).length) {
      // photos not sent yet stay (each is sent only by its own user)
      jobs.push(queuedPhotos().then(function (photos) {
        if (photos.length) return;
        return new Promise(function (resolve) {
          var req = indexedDB.deleteDatabase("minqing-visits");
          req.onsuccess = req.onerror = req.onblocked = function () { resolve(); };
        });
      }));
    }
    return Promise.all(jobs);
  }
  window.minqingWipeOffline = wipeOffline;

  function guardOfflineData() {
    var body = document.body;
    if (!body || !window.localStorage) return;
    var current = body.dataset.user || "";
    var last = localStorage.getItem("minqing.user");
    if (current && last && last !== current) wipeOffline(current);
    if (current) localStorage.setItem("minqing.user", current);
  }

  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!form.matches || !form.matches("form[data-logout]") || form.dataset.wiped) return;
    ev.preventDefault();
    ev.stopImmediatePropagation();
    var user = (document.body && document.body.dataset.user) || "";
    var timeout = function (ms, value) { return new Promise(function (r) { setTimeout(function () { r(value); }, ms); }); };
    var leave = function () {
      localStorage.removeItem("minqing.user");
      var done = function () { form.dataset.wiped = "1"; form.submit(); };
      Promise.race([wipeOffline(null), timeout(1500)]).then(done, done);
    };
    var offline = window.minqingOffline;
    // on the offline page: send the queue and the photos first (a few seconds at most)
    var first = offline && offline.flush && navigator.onLine
      ? Promise.race([offline.flush().catch(function () {}), timeout(8000)]) : Promise.resolve();
    first.then(function () { return pendingOffline(user); }).catch(function () { return null; }).then(function (left) {
      if (left && (left.visits || left.photos)) {
        var text = (form.dataset.pendingWarning || "").replace("{visits}", left.visits).replace("{photos}", left.photos);
        if (!window.confirm(text)) { setBusy(form, false); return; }  // stays signed in, nothing touched
      }
      leave();
    });
  }, true);

  document.addEventListener("DOMContentLoaded", function () {
    guardOfflineData();
    init(document);
    focusFeedback(document);
  });

  document.addEventListener("htmx:afterSettle", function (ev) {
    var target = ev.detail.target;
    // an outerHTML swap replaced the target: find its successor by id
    if (target && !target.isConnected && target.id) target = document.getElementById(target.id);
    if (!target) return;
    init(target);
    focusFeedback(target);
  });
  document.addEventListener("htmx:afterRequest", function (ev) {
    var form = ev.detail.elt && ev.detail.elt.closest && ev.detail.elt.closest("form");
    if (form && form.dataset.busy) setBusy(form, false);
  });
})();
