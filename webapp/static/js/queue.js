/* The offline queue of round checks and findings (loaded on every page).

   What the inspector records goes into IndexedDB first, each item with an id made here (a
   UUID), and is sent from there in the order recorded: at once when online, else when the
   connection returns (on any page of the app). The server records an id once, so a retry
   after a lost answer is harmless. A refusal (4xx with a reason) is kept and shown until the
   inspector dismisses it; a network or server error (5xx) keeps the item for the next try; an
   expired session keeps everything and asks to sign in again. The header shows
   「N 筆待上傳」; signing out while items wait asks first.
   window.CityDeskQueue is used by rounds.js. Progressive: without script (or IndexedDB) the
   pages post their forms as before. */
(function () {
  "use strict";

  var DB_NAME = "citydesk-offline";
  var STORE = "queue";
  var RETRY_MS = 20000;
  var root = document.getElementById("offline-queue");
  var user = root ? root.dataset.user : "";
  var strings = {};
  try { strings = JSON.parse(root ? root.dataset.i18n : "{}"); } catch (e) { strings = {}; }
  var listeners = [];
  var state = { signIn: false, offline: !navigator.onLine, sending: false };
  var dbPromise = null;
  var timer = null;

  function text(key, n) { return (strings[key] || key).replace("{n}", n); }

  function openDb() {
    if (!dbPromise) {
      dbPromise = new Promise(function (resolve, reject) {
        if (!window.indexedDB) { reject(new Error("no IndexedDB")); return; }
        var request = indexedDB.open(DB_NAME, 1);
        request.onupgradeneeded = function () {
          request.result.createObjectStore(STORE, { keyPath: "seq", autoIncrement: true });
        };
        request.onsuccess = function () { resolve(request.result); };
        request.onerror = function () { reject(request.error); };
      });
    }
    return dbPromise;
  }

  function run(mode, work) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(STORE, mode);
        var result = work(tx.objectStore(STORE));
        tx.oncomplete = function () { resolve(result && "result" in result ? result.result : result); };
        tx.onerror = function () { reject(tx.error); };
      });
    });
  }

  /* Every item of the signed-in user, in the order recorded. */
  function all() {
    return run("readonly", function (store) { return store.getAll(); }).then(function (items) {
      return (items || []).filter(function (item) { return item.user === user; });
    });
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 0x100).toString(16).slice(1); }).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" + hex.slice(16, 20) + "-" + hex.slice(20);
  }

  /* Queue an item {url, kind, fields, files: {name: [Blob]}, round, label}; resolves with it. */
  function add(item) {
    item.id = uuid();
    item.user = user;
    item.state = "waiting";
    item.at = Date.now();
    return run("readwrite", function (store) { return store.add(item); }).then(function (seq) {
      item.seq = seq;
      changed({ added: item });
      flush();
      return item;
    });
  }

  function put(item) { return run("readwrite", function (store) { store.put(item); }); }
  function remove(item) { return run("readwrite", function (store) { store.delete(item.seq); }); }

  function dismiss(seq) {
    return run("readwrite", function (store) { store.delete(seq); }).then(function () { changed({}); });
  }

  function csrfToken() {
    var input = document.querySelector("input[name=csrf_token]");
    return input ? input.value : "";
  }

  /* A fresh CSRF token from this page on the server (the cached page's may be stale). */
  function freshToken() {
    return fetch(location.href, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (response.redirected && /\/login/.test(response.url)) { return null; }
        return response.text();
      })
      .then(function (html) {
        if (!html) { return null; }
        var page = new DOMParser().parseFromString(html, "text/html");
        var input = page.querySelector("input[name=csrf_token]");
        if (!input) { return null; }
        document.querySelectorAll("input[name=csrf_token]").forEach(function (el) { el.value = input.value; });
        return input.value;
      });
  }

  function body(item) {
    if (item.kind === "check") {
      return { json: true, data: JSON.stringify(Object.assign({ client_id: item.id }, item.fields)) };
    }
    var form = new FormData();
    form.append("client_id", item.id);
    Object.keys(item.fields).forEach(function (key) { form.append(key, item.fields[key]); });
    Object.keys(item.files || {}).forEach(function (key) {
      item.files[key].forEach(function (blob, i) { form.append(key, blob, "photo-" + (i + 1) + ".jpg"); });
    });
    return { json: false, data: form };
  }

  /* Send one item: "sent", "refused", "signin", "csrf" or "retry". */
  function send(item, token) {
    var payload = body(item);
    var headers = { "Accept": "application/json", "X-CSRFToken": token };
    if (payload.json) { headers["Content-Type"] = "application/json"; }
    return fetch(item.url, {
      method: "POST", credentials: "same-origin", headers: headers, body: payload.data
    }).then(function (response) {
      if (response.ok) { return "sent"; }
      if (response.status >= 500) { return "retry"; }
      return response.json().catch(function () { return {}; }).then(function (answer) {
        if (response.status === 401) { return "signin"; }
        if (response.status === 400 && answer.error === "csrf") { return "csrf"; }
        item.state = "refused";
        item.reason = answer.message || String(response.status);
        delete item.files;  // the photos of a refused finding are not kept on the phone
        return put(item).then(function () { return "refused"; });
      });
    }, function () { return "retry"; });
  }

  function flushNow() {
    if (!user) { return Promise.resolve(); }
    if (state.sending) { state.again = true; return Promise.resolve(); }
    state.sending = true;
    state.again = false;
    var token = csrfToken();
    var sent = [];
    function next(items, retried) {
      var item = items.shift();
      if (!item) { return "done"; }
      if (item.state !== "waiting") { return next(items, false); }
      return send(item, token).then(function (outcome) {
        if (outcome === "sent") {
          sent.push(item);
          return remove(item).then(function () { changed({ sent: item }); return next(items, false); });
        }
        if (outcome === "refused") { changed({ refused: item }); return next(items, false); }
        if (outcome === "csrf" && !retried) {
          return freshToken().then(function (fresh) {
            if (!fresh) { return "signin"; }
            token = fresh;
            items.unshift(item);
            return next(items, true);
          }, function () { return "retry"; });
        }
        return outcome === "csrf" ? "signin" : outcome;  // stop here: keep the order
      });
    }
    return all().then(function (items) { return next(items, false); }).then(function (outcome) {
      state.sending = false;
      state.signIn = outcome === "signin";
      state.offline = outcome === "retry" && !navigator.onLine;
      changed({ flushed: sent, outcome: outcome });
      return all().then(function (items) {
        var waiting = items.some(function (item) { return item.state === "waiting"; });
        clearTimeout(timer);
        if (waiting && outcome === "retry") { timer = setTimeout(flush, RETRY_MS); }
        if (state.again && outcome === "done") { flush(); }  // an item added while sending
      });
    }, function () { state.sending = false; });
  }

  function flush() {
    if (navigator.locks && navigator.locks.request) {  // one tab sends at a time
      return navigator.locks.request("citydesk-offline-queue", flushNow);
    }
    return flushNow();
  }

  function onChange(listener) { listeners.push(listener); }

  function changed(event) {
    render();
    listeners.forEach(function (listener) { listener(event); });
  }

  /* The header's 「N 筆待上傳」, the sign-in hint and the refused items. */
  function render() {
    if (!root) { return; }
    all().then(function (items) {
      var waiting = items.filter(function (item) { return item.state === "waiting"; });
      var refused = items.filter(function (item) { return item.state === "refused"; });
      var count = root.querySelector("[data-queue-count]");
      count.textContent = text("pending", waiting.length);
      count.dataset.count = String(waiting.length);
      count.hidden = waiting.length === 0;
      var note = root.querySelector("[data-queue-note]");
      var signIn = root.querySelector("[data-queue-signin]");
      signIn.hidden = !(state.signIn && waiting.length);
      note.hidden = !waiting.length || state.signIn;
      note.textContent = state.offline || !navigator.onLine ? text("offline") : text("waiting");
      var list = root.querySelector("[data-queue-refused]");
      list.textContent = "";
      refused.forEach(function (item) {
        var li = document.createElement("li");
        li.className = "queue-refused-item";
        var what = document.createElement("strong");
        what.textContent = item.label || "";
        var why = document.createElement("span");
        why.textContent = text("refused") + item.reason;
        var button = document.createElement("button");
        button.type = "button";
        button.className = "button";
        button.textContent = text("dismiss");
        button.addEventListener("click", function () { dismiss(item.seq); });
        li.appendChild(what);
        li.appendChild(why);
        li.appendChild(button);
        list.appendChild(li);
      });
      list.hidden = refused.length === 0;
      root.hidden = !waiting.length && !refused.length;
    }).catch(function () { /* no IndexedDB: nothing is ever queued */ });
  }

  function confirmSignOut() {
    document.querySelectorAll("form[data-queue-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        var count = root ? Number(root.querySelector("[data-queue-count]").dataset.count || 0) : 0;
        if (count > 0 && !window.confirm(text("confirmSignOut", count))) { event.preventDefault(); }
      });
    });
  }

  window.CityDeskQueue = { add: add, all: all, flush: flush, dismiss: dismiss, onChange: onChange };

  document.addEventListener("DOMContentLoaded", function () {
    confirmSignOut();
    render();
    if (user) { flush(); }
  });
  window.addEventListener("online", function () { state.offline = false; flush(); });
  window.addEventListener("offline", function () { state.offline = true; render(); });
})();
