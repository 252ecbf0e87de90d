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
