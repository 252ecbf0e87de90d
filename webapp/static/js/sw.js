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
