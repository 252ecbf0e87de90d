/*
 * CityDesk alerts: the sound engine of the live pages, and the agency's alerts.
 *
 * - CityDeskSound (used by live.js on the board too): a short tone through the Web Audio API.
 *   Browsers keep audio suspended until the page gets a gesture; `resume()` asks anyway.
 * - The agency inbox and its lock screen ([data-alerts]): every dispatch not yet acknowledged
 *   plays the sound and shows a desktop notification (through the service worker) at once,
 *   then again each minute until someone of the agency acknowledges. The tab's title and icon
 *   carry the count. When the browser blocks the sound or the notifications, a bar says so
 *   with one button that enables them (a gesture is what the browser waits for).
 * - When the feed says the session is locked (idle too long), the page is replaced by the lock
 *   panel: nothing of the dispatches stays in the page; the alerts go on without subjects.
 *
 * live.js hands every poll's answer over with a "citydesk:feed" event. Test hook:
 * window.__citydeskAlerts = {sounds, notifications, count, locked, soundBlocked}.
 */
(function () {
  "use strict";

  var REPEAT_MS = 60 * 1000;
  var BLOCKED_CHECK_MS = 400;

  // The sound ----------------------------------------------------------------------------

  var ctx = null;

  function audioContext() {
    if (!ctx) {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return null;
      ctx = new Ctx();
      ctx.addEventListener("statechange", function () {
        document.dispatchEvent(new CustomEvent("citydesk:sound"));
      });
    }
    return ctx;
  }

  function running() {
    return !!ctx && ctx.state === "running";
  }

  // Resolves true once the audio runs (a blocked context may stay pending until a gesture).
  function resume() {
    var audio = audioContext();
    if (!audio) return Promise.resolve(false);
    if (audio.state === "running") return Promise.resolve(true);
    return audio.resume().then(running, function () {
      return false; // still blocked: the bar says so
    });
  }

  // Three short tones; false when the browser keeps the audio suspended.
  function play() {
    if (!running()) return false;
    var start = ctx.currentTime;
    [0, 0.35, 0.7].forEach(function (at) {
      var osc = ctx.createOscillator();
      var gain = ctx.createGain();
      osc.type = "sine";
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.0001, start + at);
      gain.gain.exponentialRampToValueAtTime(0.3, start + at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + at + 0.25);
      osc.connect(gain);
      gain.connect(ctx.destination);
      osc.start(start + at);
      osc.stop(start + at + 0.3);
    });
    return true;
  }

  window.CityDeskSound = { resume: resume, play: play, running: running };

  // The agency's alerts --------------------------------------------------------------------

  var root = document.querySelector("[data-alerts]");
  if (!root) return;

  var T = {};
  try {
    T = JSON.parse(root.getAttribute("data-i18n") || "{}");
  } catch (e) {
    T = {};
  }
  var soundOn = root.getAttribute("data-sound") === "on";
  var agencyName = root.getAttribute("data-agency-name") || "";
  var inboxUrl = root.getAttribute("data-inbox-url") || "/";
  var locked = root.getAttribute("data-live") === "lock";
  var hook = (window.__citydeskAlerts = {
    sounds: 0,
    notifications: [],
    count: 0,
    locked: locked,
    soundBlocked: false,
  });

  var waiting = []; // open dispatches not acknowledged, from the last poll
  var alerted = {}; // id -> true once its first alert went out
  var lastAlert = 0;
  var offset = 0; // server clock minus the browser's

  // fmt and the mm:ss clock are countdown.js's (live.js uses the same).
  var fmt = window.CityDeskCountdown.fmt;
  var clockText = window.CityDeskCountdown.clockText;

  function timeText(d) {
    var ms = Date.parse(d.deadline_at) - (Date.now() + offset);
    var time = clockText(Math.floor(Math.abs(ms) / 1000));
    return fmt(ms < 0 ? T.timeOverdue : T.timeLeft, { time: time });
  }

  // Desktop notifications, shown by the service worker (its notificationclick opens the inbox).
  function tag(d) {
    return "citydesk-dispatch-" + d.id;
  }

  // The active service worker, or null (none yet, or none at all: then the page notifies).
  function registration() {
    if (!("serviceWorker" in navigator)) return Promise.resolve(null);
    return navigator.serviceWorker.getRegistration().then(function (reg) {
      return reg && reg.active ? reg : null;
    });
  }

  function notify(d) {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    var title = fmt(T.notifyTitle, { agency: d.agency_name || agencyName });
    var body = locked ? timeText(d) + " · " + T.lockedNote : d.subject + " · " + timeText(d);
    var options = {
      body: body,
      tag: tag(d),
      renotify: true,
      requireInteraction: true,
      data: { url: inboxUrl },
    };
    registration()
      .then(function (reg) {
        if (reg) return reg.showNotification(title, options);
        new Notification(title, options); // eslint-disable-line no-new
      })
      .then(function () {
        hook.notifications.push({ id: d.id, title: title, body: body });
      })
      .catch(function () {
        /* a notification that cannot be shown: the sound and the title still tell */
      });
  }

  function closeNotifications(keep) {
    registration()
      .then(function (reg) {
        if (!reg) return;
        return reg.getNotifications().then(function (list) {
          list.forEach(function (n) {
            if (n.tag.indexOf("citydesk-dispatch-") === 0 && !keep[n.tag]) n.close();
          });
        });
      })
      .catch(function () {
        /* nothing to close */
      });
  }

  function alertNow(list) {
    lastAlert = Date.now();
    if (soundOn && play()) hook.sounds += 1;
    list.forEach(notify);
  }

  // The count in the tab's title and icon --------------------------------------------------

  var baseTitle = document.title;
  var icon = document.querySelector('link[rel="icon"]');
  var baseIcon = icon ? icon.getAttribute("href") : null;
  var iconImage = null;

  function drawIcon(count) {
    if (!icon) return;
    if (!count) {
      icon.setAttribute("href", baseIcon);
      icon.setAttribute("type", "image/svg+xml");
      return;
    }
    var draw = function () {
      var canvas = document.createElement("canvas");
      canvas.width = canvas.height = 64;
      var g = canvas.getContext("2d");
      if (!g) return;
      if (iconImage.complete && iconImage.naturalWidth) g.drawImage(iconImage, 0, 0, 64, 64);
      g.fillStyle = "#c62828";
      g.beginPath();
      g.arc(44, 20, 20, 0, 2 * Math.PI);
      g.fill();
      g.fillStyle = "#ffffff";
      g.font = "bold 28px sans-serif";
      g.textAlign = "center";
      g.textBaseline = "middle";
      g.fillText(count > 9 ? "9+" : String(count), 44, 21);
      icon.setAttribute("type", "image/png");
      icon.setAttribute("href", canvas.toDataURL("image/png"));
    };
    if (!iconImage) {
      iconImage = new Image();
      iconImage.addEventListener("load", function () {
        if (hook.count) drawIcon(hook.count);
      });
      iconImage.src = baseIcon;
    }
    draw();
  }

  function showCount(count) {
    hook.count = count;
    var title = locked ? T.locked || baseTitle : baseTitle;
    document.title = count ? "(" + count + ") " + title : title;
    drawIcon(count);
    var line = document.querySelector("[data-lock-count]");
    if (line) line.textContent = fmt(T.waitingCount, { n: count });
  }

  // The bar: what the browser blocks, and the one button that enables it --------------------

  var bar = root.querySelector("[data-alert-bar]");

  function showBar() {
    if (!bar) return;
    var problems = [];
    hook.soundBlocked = soundOn && !running();
    if (hook.soundBlocked) problems.push(T.soundBlocked);
    if ("Notification" in window) {
      if (Notification.permission === "default") problems.push(T.notifyDefault);
      if (Notification.permission === "denied") problems.push(T.notifyDenied);
    }
    bar.querySelector("[data-alert-bar-text]").textContent = problems.join(" ");
    bar.hidden = problems.length === 0;
  }

  function enable() {
    var asked =
      "Notification" in window && Notification.permission === "default"
        ? Notification.requestPermission()
        : Promise.resolve();
    Promise.all([resume(), Promise.resolve(asked).catch(function () {})]).then(function () {
      showBar();
      if (waiting.length) alertNow(waiting); // what was missed, now heard
    });
    window.setTimeout(showBar, BLOCKED_CHECK_MS);
  }

  if (bar) bar.querySelector("[data-alert-enable]").addEventListener("click", enable);
  // Any gesture on the page lets the browser start the audio.
  ["click", "keydown", "touchend"].forEach(function (type) {
    document.addEventListener(type, function () {
      if (soundOn && !running()) {
        resume();
        window.setTimeout(showBar, BLOCKED_CHECK_MS);
      }
    });
  });

  // The user's sound setting (kept on the server: it follows them to any browser) ---------

  var soundForm = document.querySelector("[data-sound-form]");

  function showSound() {
    if (!soundForm) return;
    var button = soundForm.querySelector("[data-sound-toggle]");
    button.setAttribute("aria-pressed", soundOn ? "true" : "false");
    button.textContent = soundOn ? T.soundOn : T.soundOff;
    soundForm.querySelector('[name="on"]').value = soundOn ? "0" : "1";
  }

  if (soundForm) {
    soundForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var next = !soundOn;
      var body = new FormData(soundForm);
      body.set("on", next ? "1" : "0");
      fetch(soundForm.action, {
        method: "POST",
        body: body,
        headers: { Accept: "application/json", "X-CSRFToken": body.get("csrf_token") },
        credentials: "same-origin",
      })
        .then(function (response) {
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.json();
        })
        .then(function (data) {
          soundOn = !!data.sound_alerts;
          showSound();
          if (soundOn) resume().then(play);
          window.setTimeout(showBar, BLOCKED_CHECK_MS);
        })
        .catch(function () {
          soundForm.submit(); // the page's own way: post and reload
        });
    });
  }

  // Locking: the page gives way to the lock panel, with nothing of the dispatches left --------

  function lockPage() {
    locked = hook.locked = true;
    var template = document.querySelector("template[data-lock-template]");
    var main = document.getElementById("main");
    if (!template || !main) return;
    var panel = template.content.firstElementChild.cloneNode(true);
    main.textContent = "";
    if (bar) main.appendChild(bar);
    main.appendChild(panel);
    Array.prototype.slice
      .call(document.querySelectorAll(".main-nav, .header-tools .who"))
      .forEach(function (el) {
        el.remove();
      });
    document.body.classList.add("is-locked");
    closeNotifications({}); // their bodies name the subject: the next ones will not
  }

  // Each poll -------------------------------------------------------------------------------

  document.addEventListener("citydesk:feed", function (event) {
    var data = event.detail;
    var server = Date.parse(data.server_time);
    if (!isNaN(server)) offset = server - Date.now();
    if (data.locked && !locked) lockPage();
    if (!data.locked && locked) {
      window.location.assign(inboxUrl); // unlocked in another tab
      return;
    }
    waiting = data.dispatches.filter(function (d) {
      return !d.acknowledged_at;
    });
    var keep = {};
    var fresh = waiting.filter(function (d) {
      keep[tag(d)] = true;
      return !alerted[d.id];
    });
    fresh.forEach(function (d) {
      alerted[d.id] = true;
    });
    closeNotifications(keep);
    showCount(waiting.length);
    if (fresh.length) alertNow(fresh);
  });

  window.setInterval(function () {
    if (waiting.length && Date.now() - lastAlert >= REPEAT_MS) alertNow(waiting);
  }, 1000);

  document.addEventListener("citydesk:sound", showBar);
  if (soundOn) resume();
  showCount(0);
  window.setTimeout(showBar, BLOCKED_CHECK_MS);
})();
