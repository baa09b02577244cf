// The site's service worker (scope /, registered by the offline visit page; the site has one
// web manifest, starting at /). Pages come from the network; with no connection any page
// opens the cached offline visit page, and its assets come from the cache. API calls always
// go to the network (the page keeps its own data and queue). The cached shell is deleted
// at logout (app.js).
"use strict";
var CACHE = "minqing-visits-v1";

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(CACHE).then(function (c) { return c.addAll(["/visits/offline/"]); }).then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (keys) {
      return Promise.all(keys.filter(function (k) { return k !== CACHE; }).map(function (k) { return caches.delete(k); }));
    }).then(function () { return self.clients.claim(); })
  );
});

self.addEventListener("fetch", function (event) {
  var req = event.request;
  if (req.method !== "GET") return;
  var url = new URL(req.url);
  if (url.origin !== location.origin || url.pathname.indexOf("/api/") === 0) return;
  if (req.mode === "navigate") {
    // network first: a fresh page when online, the cached shell when not
    event.respondWith(
      fetch(req).then(function (resp) {
        if (resp.ok && url.pathname === "/visits/offline/") {
          var copy = resp.clone();
          caches.open(CACHE).then(function (c) { c.put("/visits/offline/", copy); });
        }
        return resp;
      }).catch(function () {
        return caches.match("/visits/offline/");
      })
    );
    return;
  }
  event.respondWith(
    caches.match(req).then(function (hit) { return hit || fetch(req); })
  );
});
