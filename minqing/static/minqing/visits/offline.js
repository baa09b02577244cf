// Offline visit capture (走访离线登记). The page shell and its assets are cached by the
// service worker; the due list and the jurisdiction's households (masked) are kept in
// localStorage per user; visits made offline are queued with a client-generated id and
// sent to /api/visits/sync when the connection returns. The server stores each id once,
// so sending the queue twice is harmless; visits it cannot store come back as conflicts,
// kept on the server for the cadre to resolve.
(function () {
  "use strict";
  var app = document.getElementById("offline-app");
  if (!app) return;
  var d = app.dataset;
  var KEY = "minqing.visits." + d.user + ".";
  var state = { pack: load("pack"), queue: load("queue") || [], conflicts: load("conflicts") || 0, syncing: false };
  var $ = function (id) { return document.getElementById(id); };
  window.minqingOffline = { ready: false, state: state };

  function load(name) {
    try { return JSON.parse(localStorage.getItem(KEY + name)); } catch (e) { return null; }
  }
  function save(name, value) { localStorage.setItem(KEY + name, JSON.stringify(value)); }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function csrf() {
    var m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

  function text(el, value) { el.textContent = value == null ? "" : String(value); }

  function li(children) {
    var item = document.createElement("li");
    children.forEach(function (c) { item.appendChild(c); });
    return item;
  }
  function span(value, cls) {
    var s = document.createElement(cls === "a" ? "a" : "span");
    if (cls && cls !== "a") s.className = cls;
    text(s, value);
    return s;
  }

  // ---------------------------------------------------------------- rendering

  function renderStatus() {
    var online = navigator.onLine;
    text($("net-status"), online ? d.tOnline : d.tOffline);
    $("net-status").className = "net-status " + (online ? "ok" : "error");
    text($("queue-count"), state.queue.length);
    text($("conflict-count"), state.conflicts);
    var list = $("queue-list");
    list.textContent = "";
    state.queue.forEach(function (v) {
      list.appendChild(li([span(new Date(v.visited_at).toLocaleString()), span(" " + (v._label || v.household_id), "muted")]));
    });
  }

  function renderPack() {
    var pack = state.pack;
    var due = $("due-list");
    due.textContent = "";
    if (!pack) return;
    text($("pack-age"), d.tStale + " " + new Date(pack.generated_at).toLocaleString());
    if (!pack.due.length) due.appendChild(li([span(d.tNone, "muted")]));
    pack.due.forEach(function (item) {
      var a = span(item.head_name || item.household_number, "a");
      a.href = "#offline-form";
      a.addEventListener("click", function () { pick(item.household_id); });
      var parts = [a, span(" " + item.grid_name + " ", "muted")];
      parts.push(span(item.overdue_days > 0 ? d.tOverdue + " " + item.overdue_days : item.due, item.overdue_days > 0 ? "badge overdue" : "badge"));
      parts.push(span(" " + item.reasons.join("、"), "muted"));
      due.appendChild(li(parts));
    });
    fillHouseholds("");
    renderTags();
  }

  function householdLabel(h) {
    var head = h.members.length ? h.members[0].name : "";
    h.members.forEach(function (m) { if (m.relation === "head") head = m.name; });
    return (head ? head + " · " : "") + h.number + " · " + h.address;
  }

  function fillHouseholds(q) {
    var select = $("household");
    var keep = select.value;
    select.textContent = "";
    var blank = document.createElement("option");
    blank.value = ""; text(blank, "—");
    select.appendChild(blank);
    if (!state.pack) return;
    q = (q || "").trim();
    var shown = 0;
    state.pack.households.forEach(function (h) {
      var label = householdLabel(h);
      if (q && label.indexOf(q) < 0 && String(h.id) !== keep) return;
      if (shown++ > 300 && String(h.id) !== keep) return;
      var o = document.createElement("option");
      o.value = h.id; text(o, label);
      select.appendChild(o);
    });
    select.value = keep;
  }

  function householdById(id) {
    if (!state.pack) return null;
    for (var i = 0; i < state.pack.households.length; i++) {
      if (String(state.pack.households[i].id) === String(id)) return state.pack.households[i];
    }
    return null;
  }

  function pick(id) {
    fillHouseholds("");
    $("household").value = String(id);
    renderMembers();
  }

  function renderTags() {
    var select = $("tag");
    select.textContent = "";
    var blank = document.createElement("option");
    blank.value = ""; text(blank, "—");
    select.appendChild(blank);
    ((state.pack && state.pack.tags) || []).forEach(function (t) {
      var o = document.createElement("option");
      o.value = t.code; o.dataset.personal = t.personal ? "1" : ""; text(o, t.name);
      select.appendChild(o);
    });
  }

  function renderMembers() {
    var ul = $("members");
    ul.textContent = "";
    var who = $("tag-member");
    who.textContent = "";
    var none = document.createElement("option");
    none.value = ""; text(none, "—");
    who.appendChild(none);
    var h = householdById($("household").value);
    if (!h) return;
    h.members.forEach(function (m) {
      var o = document.createElement("option");
      o.value = m.id; text(o, m.name);
      who.appendChild(o);
    });
    h.members.forEach(function (m) {
      var label = document.createElement("label");
      label.className = "check";
      var box = document.createElement("input");
      box.type = "checkbox"; box.value = m.id; box.name = "met_member_ids";
      label.appendChild(box);
      label.appendChild(document.createTextNode(m.name));
      ul.appendChild(li([label]));
    });
  }

  function localNow() {
    var now = new Date();
    now.setSeconds(0, 0);
    return new Date(now.getTime() - now.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  }

  // ---------------------------------------------------------------- capture

  function onSubmit(event) {
    event.preventDefault();
    var err = $("form-error");
    err.hidden = true;
    var household = $("household").value;
    var situation = $("situation").value.trim();
    var when = $("visited-at").value || localNow();
    var problem = !household ? d.tNeedHousehold : !situation ? d.tNeedSituation : new Date(when) > new Date(Date.now() + 5 * 60000) ? d.tFuture : "";
    if (problem) { text(err, problem); err.hidden = false; return; }
    var tagCode = $("tag").value;
    var tagOption = $("tag").selectedOptions[0];
    if (tagCode && tagOption && tagOption.dataset.personal && !$("tag-member").value) {
      text(err, d.tNeedMember); err.hidden = false; return;
    }
    var h = householdById(household);
    var visit = {
      client_id: uuid(),
      household_id: Number(household),
      visited_at: new Date(when).toISOString(),
      place: $("place").value.trim(),
      met_member_ids: Array.prototype.map.call(document.querySelectorAll("#members input:checked"), function (b) { return Number(b.value); }),
      met_others: $("met-others").value.trim(),
      situation: situation,
      needs: $("need").value.trim() ? [$("need").value.trim()] : [],
      disputes: $("dispute").value.trim() ? [$("dispute").value.trim()] : [],
      follow_up_date: $("follow-up").value || null,
      tags: tagCode ? [{ tag: tagCode, start_date: $("tag-date").value || localNow().slice(0, 10),
                         resident_id: $("tag-member").value ? Number($("tag-member").value) : null }] : [],
      _label: h ? householdLabel(h) : ""
    };
    var files = Array.prototype.slice.call($("photos").files || []);
    visit._photos = files.length;
    state.queue.push(visit);
    save("queue", state.queue);
    files.forEach(function (f) {
      putPhoto({ id: uuid(), user: d.user, visit: visit.client_id, name: f.name, type: f.type, blob: f, visit_id: null });
    });
    $("offline-form").reset();
    $("visited-at").value = localNow();
    renderMembers();
    text($("sync-message"), d.tSaved);
    renderStatus();
    sync();
  }

  // ---------------------------------------------------------------- photos (IndexedDB)
  // A photo taken offline waits in IndexedDB with its user and its visit's client id; once
  // the visit is stored (created or duplicate) it is sent to /api/visits/visits/<id>/photos
  // with its own client id (sent twice, stored once) and removed from the phone. The photos
  // of a visit that came back as a conflict wait (`conflict`) until the cadre resolves it:
  // stored again (the photos follow it to the new visit) or dismissed (the photos go with
  // it). Only the signed-in user's photos are sent or counted.

  function photoStore(mode, work) {
    if (!window.indexedDB) return Promise.resolve([]);
    return new Promise(function (resolve, reject) {
      var open = indexedDB.open("minqing-visits", 1);
      open.onupgradeneeded = function () { open.result.createObjectStore("photos", { keyPath: "id" }); };
      open.onerror = function () { reject(open.error); };
      open.onsuccess = function () {
        var db = open.result;
        var tx = db.transaction("photos", mode);
        var out = work(tx.objectStore("photos"));
        tx.oncomplete = function () { db.close(); resolve(out && "result" in out ? out.result : out); };
        tx.onerror = function () { db.close(); reject(tx.error); };
      };
    });
  }
  function putPhoto(p) { return photoStore("readwrite", function (s) { s.put(p); }); }
  function allPhotos() { return photoStore("readonly", function (s) { return s.getAll(); }); }
  function dropPhoto(id) { return photoStore("readwrite", function (s) { s["delete"](id); }); }

  function mine(p) { return !p.user || String(p.user) === String(d.user); }
  function myPhotos() {
    return allPhotos().then(function (photos) { return photos.filter(mine); });
  }

  function markPhotos(stored, conflicted) {
    if (!Object.keys(stored).length && !Object.keys(conflicted).length) return Promise.resolve();
    return myPhotos().then(function (photos) {
      return Promise.all(photos.filter(function (p) { return stored[p.visit] || conflicted[p.visit]; }).map(function (p) {
        if (stored[p.visit]) { p.visit_id = stored[p.visit]; p.conflict = false; }
        else p.conflict = true;
        return putPhoto(p);
      }));
    });
  }

  // The photos waiting on conflicts: how were those resolved? One request for them all.
  function followConflicts() {
    if (!navigator.onLine) return Promise.resolve();
    return myPhotos().then(function (photos) {
      var waiting = photos.filter(function (p) { return p.conflict && !p.visit_id; });
      if (!waiting.length) return;
      var ids = {};
      waiting.forEach(function (p) { ids[p.visit] = true; });
      var q = Object.keys(ids).slice(0, 200).map(function (c) { return "client_id=" + encodeURIComponent(c); }).join("&");
      return fetch(d.conflictsUrl + "?" + q, { credentials: "same-origin" }).then(function (r) {
        if (!r.ok) throw new Error("conflicts " + r.status);
        return r.json();
      }).then(function (rows) {
        var by = {};
        rows.forEach(function (c) { by[c.client_id] = c; });
        return Promise.all(waiting.map(function (p) {
          var c = by[p.visit];
          if (!c || !c.resolved_at) return null;  // still open: keep waiting
          if (c.visit_id) { p.visit_id = c.visit_id; p.conflict = false; return putPhoto(p); }
          return dropPhoto(p.id);  // dismissed: the photos go with the visit
        }));
      });
    }).catch(function () { /* try again at the next sync */ });
  }

  function renderPhotos() {
    return myPhotos().then(function (photos) {
      var waiting = photos.filter(function (p) { return p.conflict && !p.visit_id; }).length;
      state.photos = photos.length;
      var sending = photos.length - waiting;
      text($("photo-count"), sending ? sending + " " + d.tPhotos : "");
      text($("photo-conflicts"), waiting ? waiting + " " + d.tPhotoConflicts : "");
    }).catch(function () {});
  }

  function uploadPhotos() {
    if (!navigator.onLine) return renderPhotos();
    return followConflicts().then(myPhotos).then(function (photos) {
      var ready = photos.filter(function (p) { return p.visit_id; });
      return ready.reduce(function (chain, p) {
        return chain.then(function () {
          var form = new FormData();
          form.append("client_id", p.id);
          form.append("file", new File([p.blob], p.name || "photo.jpg", { type: p.type }));
          return fetch(d.photoUrl + p.visit_id + "/photos", {
            method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrf() }, body: form
          }).then(function (r) {
            // stored, or refused for good (not an image, too many): off the phone
            if (r.ok || r.status === 400 || r.status === 409) return dropPhoto(p.id);
          });
        });
      }, Promise.resolve());
    }).catch(function () { /* try again at the next sync */ }).then(renderPhotos);
  }

  // ---------------------------------------------------------------- sync

  function sync() {
    if (state.syncing) return state.inflight;  // the one already on its way
    if (!navigator.onLine) return Promise.resolve();
    if (!state.queue.length) return uploadPhotos();
    state.syncing = true;
    var batch = state.queue.slice(0, 200);
    var body = { visits: batch.map(function (v) {
      var copy = {};
      Object.keys(v).forEach(function (k) { if (k.charAt(0) !== "_") copy[k] = v[k]; });
      return copy;
    }) };
    state.inflight = fetch(d.syncUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify(body)
    }).then(function (r) {
      if (!r.ok) throw new Error("sync " + r.status);
      return r.json();
    }).then(function (results) {
      var done = {};
      var stored = {};
      var conflicted = {};
      var conflicts = 0;
      results.forEach(function (x) {
        done[x.client_id] = true;
        if (x.visit_id) stored[x.client_id] = x.visit_id;  // a conflict already stored again too
        else if (x.status === "conflict") { conflicts++; conflicted[x.client_id] = true; }
      });
      state.queue = state.queue.filter(function (v) { return !done[v.client_id]; });
      save("queue", state.queue);
      state.conflicts += conflicts;
      save("conflicts", state.conflicts);
      text($("sync-message"), conflicts ? conflicts + " " + d.tConflicts : d.tSynced);
      return markPhotos(stored, conflicted).then(uploadPhotos);
    }).catch(function () { /* still offline or the server refused: keep the queue */ })
      .then(function () {
        state.syncing = false;
        renderStatus();
        if (state.queue.length && navigator.onLine && !state._retried) { state._retried = true; return sync(); }
        state._retried = false;
      });
    return state.inflight;
  }

  function refreshPack() {
    if (!navigator.onLine) return Promise.resolve();
    return fetch(d.packUrl, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error("pack " + r.status);
      return r.json();
    }).then(function (pack) {
      state.pack = pack;
      save("pack", pack);
      renderPack();
    }).catch(function () { /* keep what the phone has */ });
  }

  // ---------------------------------------------------------------- install

  function cacheShell() {
    if (!("caches" in window)) return Promise.resolve();
    var urls = [location.pathname].concat(d.assets.split(" ").filter(Boolean));
    return caches.open("minqing-visits-v1").then(function (c) { return c.addAll(urls); }).catch(function () {});
  }

  function registerWorker() {
    if (!("serviceWorker" in navigator)) return Promise.resolve();
    return navigator.serviceWorker.register(d.swUrl, { scope: d.scope })
      .then(function () { return navigator.serviceWorker.ready; })
      .catch(function () {});
  }

  // What is still on the phone after trying to send it (the logout asks before leaving).
  function flush() {
    return sync().then(uploadPhotos).then(function () {
      return myPhotos().then(function (photos) {
        return { visits: state.queue.length, photos: photos.length };
      }, function () { return { visits: state.queue.length, photos: 0 }; });
    });
  }
  window.minqingOffline.flush = flush;

  $("offline-form").addEventListener("submit", onSubmit);
  $("household").addEventListener("change", renderMembers);
  $("household-q").addEventListener("input", function (e) { fillHouseholds(e.target.value); });
  $("sync-now").addEventListener("click", function () { sync(); });
  window.addEventListener("online", function () { renderStatus(); refreshPack().then(sync); });
  window.addEventListener("offline", renderStatus);
  $("visited-at").value = localNow();
  renderStatus();
  renderPack();
  renderPhotos();
  var boot = navigator.onLine ? Promise.all([registerWorker(), cacheShell(), refreshPack()]) : Promise.resolve();
  boot.then(sync).then(function () { window.minqingOffline.ready = true; app.dataset.ready = "1"; });
})();
