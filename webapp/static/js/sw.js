/*
 * CityDesk's service worker (served at /sw.js so that its scope is the whole app).
 * Our own code, no library, no network beyond this server.
 *
 * Sections (each area keeps to its own):
 *  - the app shell and round pages cache, offline rounds   (facility: offline rounds)
 *  - notifications                                          (agency alerts)
 */
/* eslint-env serviceworker */
"use strict";

self.addEventListener("install", function () {
  self.skipWaiting();
});

self.addEventListener("activate", function (event) {
  event.waitUntil(self.clients.claim());
});

/* ==== offline rounds: the app shell and the pages of started rounds ======================
 * The shell (CSS, scripts, icons) is cached at install and kept fresh as it is fetched; a
 * round's page (/facility/rounds/<id>, any ?floor=) is fetched from the network first and its
 * copy kept, so that reloading it with no connection shows the last state, on which the page
 * lays what waits in the phone's queue (queue.js). Nothing else is cached: other pages
 * and every POST go to the network as before. */
var SHELL_CACHE = "citydesk-shell-v1";
var ROUNDS_CACHE = "citydesk-rounds-v1";
var SHELL = [
  "/static/css/citydesk.css",
  "/static/css/facility.css",
  "/static/js/app.js",
  "/static/js/queue.js",
  "/static/js/forms.js",
  "/static/js/facility.js",
  "/static/js/rounds.js",
  "/static/favicon.svg",
  "/static/icons/icon-192.png",
  "/static/icons/icon-512.png"
];
var ROUND_PAGE = /^\/facility\/rounds\/\d+$/;
var NETWORK_WAIT_MS = 5000;  // a basement's dead connection: show the copy instead

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(SHELL_CACHE).then(function (cache) { return cache.addAll(SHELL); })
      .catch(function () { /* installable anyway; the shell is cached as it is fetched */ })
  );
});

self.addEventListener("activate", function (event) {
  var keep = [SHELL_CACHE, ROUNDS_CACHE];
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) {
      return name.indexOf("citydesk-") === 0 && keep.indexOf(name) < 0;
    }).map(function (name) { return caches.delete(name); }));
  }));
});

function networkFirst(request, cacheName, key) {
  var network = fetch(request).then(function (response) {
    var copy = response.clone();
    if (response.ok && !response.redirected && response.type === "basic") {
      caches.open(cacheName).then(function (cache) { return cache.put(key, copy); });
    }
    return response;
  });
  var timeout = new Promise(function (resolve, reject) {
    setTimeout(function () { reject(new Error("timeout")); }, NETWORK_WAIT_MS);
  });
  return Promise.race([network, timeout]).catch(function (error) {
    return caches.open(cacheName)
      .then(function (cache) { return cache.match(key, { ignoreSearch: true }); })
      .then(function (cached) {
        if (cached) { return cached; }
        return network;  // nothing kept: the network's own answer or error
      })
      .catch(function () { throw error; });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") { return; }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(networkFirst(request, SHELL_CACHE, url.pathname));
  } else if (ROUND_PAGE.test(url.pathname)) {
    event.respondWith(networkFirst(request, ROUNDS_CACHE, url.pathname));
  }
});
/* ==== end offline rounds ================================================================ */

/* --- notifications (agency alerts) -------------------------------------------------------
 * alerts.js shows each dispatch's notification through this worker (registration.
 * showNotification); a click focuses the open inbox tab, or opens the inbox. */

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var data = event.notification.data || {};
  var target = new URL(data.url || "/agency/", self.location.origin);
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (list) {
      for (var i = 0; i < list.length; i += 1) {
        var client = list[i];
        if (new URL(client.url).pathname === target.pathname && "focus" in client) {
          return client.focus();
        }
      }
      return self.clients.openWindow(target.href);
    })
  );
});
