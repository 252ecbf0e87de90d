/* Loaded on every page: registers the service worker (installable app, offline rounds,
   notifications). Progressive: every page works without it. */
(function () {
  "use strict";
  if (!("serviceWorker" in navigator)) return;
  var url = document.documentElement.getAttribute("data-service-worker");
  if (!url) return;
  navigator.serviceWorker.register(url, { scope: "/" }).catch(function () {
    /* no service worker (private mode, old browser): the pages work online as before */
  });
})();
