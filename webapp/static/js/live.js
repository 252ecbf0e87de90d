/*
 * CityDesk live dispatch pages: the live board (and wall mode), the agency inbox and the
 * dispatch page. Plain JavaScript, no framework.
 *
 * - Polls the JSON API (/api/v1/dispatches/open) every 2 seconds, so a new dispatch appears
 *   within 3 seconds without reloading. Each poll sends the last answer's ETag in
 *   If-None-Match: an unchanged list comes back as 304 with no body, and the page keeps what
 *   it shows (the countdowns tick from deadline_at by the server's clock either way). The
 *   page sends the validator itself (the answers are not kept in the HTTP cache: no-store),
 *   so a 304 reaches this script and never stands for a stale server_time.
 * - Shows how many open dispatches from earlier days wait for the end of day (日結).
 * - Ticks every countdown each second by the SERVER's clock: each response carries the
 *   server time and the page keeps the offset to the browser's clock.
 * - Colours by urgency (more than the warning's minutes left / that or less / overdue), the
 *   threshold from the page (data-warn-seconds, the server's), overdue judged from
 *   deadline_at like the server does.
 * - Ticks the visitor's own wait beside the agency's clock (from the visit's logging, across
 *   transfers) and marks seniors and visitors needing accessibility (listed first by the server).
 * - A page with no data-source (the acknowledgement link's page, signed out) only ticks.
 * - A visible alert for new dispatches always. On the board a sound (alerts.js's CityDeskSound)
 *   when switched on; the agency's sound, notifications and lock are alerts.js's, which gets
 *   every poll's answer as a "citydesk:feed" event.
 */
(function () {
  "use strict";

  var POLL_MS = 2000;
  var TICK_MS = 500;

  // Small things any page may use -------------------------------------------------------

  var summary = document.querySelector("[data-autofocus]");
  if (summary) summary.focus();

  var fullscreen = document.querySelector("[data-fullscreen]");
  if (fullscreen && document.documentElement.requestFullscreen) {
    fullscreen.addEventListener("click", function () {
      if (document.fullscreenElement) document.exitFullscreen();
      else document.documentElement.requestFullscreen();
    });
  } else if (fullscreen) {
    fullscreen.hidden = true;
  }

  var root = document.querySelector("[data-live]");
  if (!root) return;

  var mode = root.getAttribute("data-live"); // board | inbox | dispatch | lock
  // A page with a lock template locks in place (alerts.js swaps in the panel and, with the
  // page's content, takes the template away): decided now, not after the feed event.
  var locksInPlace = !!document.querySelector("[data-lock-template]");
  var source = root.getAttribute("data-source");
  // The warning colour's threshold is the server's (webapp.desk.labels.WARN_SECONDS).
  var WARN_MS = parseInt(root.getAttribute("data-warn-seconds"), 10) * 1000;
  var T = {};
  try {
    T = JSON.parse(root.getAttribute("data-i18n") || "{}");
  } catch (e) {
    T = {};
  }

  // The server's clock --------------------------------------------------------------------

  var offset = Date.parse(root.getAttribute("data-server-now")) - Date.now();
  if (isNaN(offset)) offset = 0;

  function serverNow() {
    return Date.now() + offset;
  }

  var timeFormat = new Intl.DateTimeFormat("en-GB", {
    timeZone: "Asia/Taipei",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hour12: false,
  });

  function hhmmss(ms) {
    return timeFormat.format(new Date(ms));
  }

  // fmt and the mm:ss clock are countdown.js's (alerts.js uses the same).
  var fmt = window.CityDeskCountdown.fmt;
  var clockText = window.CityDeskCountdown.clockText;

  function setText(el, text) {
    if (el && el.textContent !== text) el.textContent = text;
  }

  function field(el, name) {
    return el.querySelector('[data-field="' + name + '"]');
  }

  // Countdowns ----------------------------------------------------------------------------

  function items() {
    if (mode === "dispatch") return [root];
    return Array.prototype.slice.call(root.querySelectorAll(".live-item[data-deadline]"));
  }

  function tickItem(el, now) {
    var deadline = Date.parse(el.getAttribute("data-deadline"));
    var notified = Date.parse(el.getAttribute("data-notified"));
    if (isNaN(deadline)) return false;
    var remaining = deadline - now;
    var overdue = remaining < 0; // "overdue" = past deadline_at, as on the server
    var urgency = overdue ? "overdue" : remaining <= WARN_MS ? "warn" : "ok";
    setText(
      field(el, "remaining"),
      overdue ? clockText(Math.floor(-remaining / 1000)) : clockText(Math.ceil(remaining / 1000))
    );
    setText(field(el, "status"), overdue ? T.overdue : T.left);
    if (!isNaN(notified)) setText(field(el, "elapsed"), clockText(Math.floor((now - notified) / 1000)));
    // The visitor's own wait runs from the visit's logging, across transfers.
    var visitCreated = Date.parse(el.getAttribute("data-visit-created"));
    if (!isNaN(visitCreated)) setText(field(el, "wait"), clockText(Math.floor((now - visitCreated) / 1000)));
    ["ok", "warn", "overdue"].forEach(function (name) {
      el.classList.toggle("urgency-" + name, name === urgency);
    });
    return overdue;
  }

  function tick() {
    var now = serverNow();
    var overdue = 0;
    items().forEach(function (el) {
      if (tickItem(el, now)) overdue += 1;
    });
    setText(document.querySelector("[data-server-clock]"), hhmmss(now));
    setText(root.querySelector('[data-count="overdue"]'), fmt(T.overdueCount, { n: overdue }));
  }

  // Rendering a dispatch ------------------------------------------------------------------

  function ackKey(d) {
    return [d.acknowledged_at, d.responder, d.eta_minutes, d.acknowledged_by].join("|");
  }

  function renderAck(el, d) {
    var box = field(el, "ack");
    if (!box || box.getAttribute("data-key") === ackKey(d)) return;
    box.setAttribute("data-key", ackKey(d));
    box.textContent = "";
    if (d.acknowledged_at) {
      var text = fmt(T.coming, { name: d.responder || "—" });
      if (d.eta_minutes !== null && d.eta_minutes !== undefined) {
        text += " · " + fmt(T.eta, { n: d.eta_minutes });
      }
      // a full-width parenthesis (Chinese) takes no space before it
      box.appendChild(document.createTextNode(T.ackBy.charAt(0) === "（" ? text : text + " "));
      var who = document.createElement("span");
      who.className = "muted";
      who.textContent = fmt(T.ackBy, {
        name: d.acknowledged_by || "—",
        time: hhmmss(Date.parse(d.acknowledged_at)),
      });
      box.appendChild(who);
    } else {
      box.textContent = T.waiting;
    }
  }

  function renderFlags(el, d) {
    var box = field(el, "flags");
    if (!box) return;
    var key = [d.is_senior, d.needs_accessibility].join("|");
    if (box.getAttribute("data-key") === key) return;
    box.setAttribute("data-key", key);
    box.textContent = "";
    [
      [d.is_senior, T.senior],
      [d.needs_accessibility, T.accessibility],
    ].forEach(function (pair) {
      if (!pair[0]) return;
      var flag = document.createElement("span");
      flag.className = "flag";
      flag.textContent = pair[1];
      box.appendChild(flag);
    });
  }

  function update(el, d) {
    el.setAttribute("data-deadline", d.deadline_at);
    el.setAttribute("data-notified", d.notified_at);
    el.setAttribute("data-state", d.state);
    el.classList.toggle("is-waiting", !d.acknowledged_at);
    // Seniors and visitors needing accessibility: marked (the server lists them first).
    el.classList.toggle("is-priority", !!(d.is_senior || d.needs_accessibility));
    if (d.visit_created_at) el.setAttribute("data-visit-created", d.visit_created_at);
    else el.removeAttribute("data-visit-created");
    var waitLine = field(el, "wait-line");
    if (waitLine) waitLine.hidden = !d.visit_created_at;
    setText(field(el, "agency"), d.agency_name);
    setText(field(el, "extension"), d.agency_extension || "—");
    setText(field(el, "id"), String(d.id));
    setText(field(el, "subject"), d.subject);
    setText(field(el, "kind"), (T.kinds && T.kinds[d.kind]) || d.kind || "");
    setText(field(el, "notified"), hhmmss(Date.parse(d.notified_at)));
    var inbox = field(el, "inbox");
    if (inbox && d.inbox_open !== undefined) {
      setText(inbox, d.inbox_open ? T.inboxOpen : T.inboxClosed);
      inbox.classList.toggle("is-open", d.inbox_open);
      inbox.classList.toggle("is-closed", !d.inbox_open);
    }
    renderAck(el, d);
    renderFlags(el, d);
    var form = el.querySelector("[data-ack-form]");
    if (form && d.acknowledged_at && !form.hidden) {
      if (form.contains(document.activeElement)) document.activeElement.blur();
      form.hidden = true;
    }
  }

  function create(d) {
    var template = root.querySelector("template[data-live-template]");
    var el = template.content.firstElementChild.cloneNode(true);
    var id = String(d.id);
    [el].concat(Array.prototype.slice.call(el.querySelectorAll("*"))).forEach(function (node) {
      ["data-id", "id", "for", "href", "action"].forEach(function (attr) {
        var value = node.getAttribute(attr);
        if (value && value.indexOf("__ID__") !== -1) node.setAttribute(attr, value.split("__ID__").join(id));
      });
    });
    return el;
  }

  // Alerts --------------------------------------------------------------------------------

  // The board's sound, switched on per browser; the agency's is alerts.js's (its own setting).
  var SOUND_KEY = "citydesk.sound";
  var sound = window.CityDeskSound;
  var soundOn = false;
  try {
    soundOn = mode === "board" && window.localStorage.getItem(SOUND_KEY) === "on";
  } catch (e) {
    soundOn = false;
  }

  function beep() {
    if (soundOn && sound) sound.play();
  }

  var toggle = mode === "board" ? document.querySelector("[data-sound-toggle]") : null;
  function showSound() {
    if (!toggle) return;
    toggle.setAttribute("aria-pressed", soundOn ? "true" : "false");
    toggle.textContent = soundOn ? T.soundOn : T.soundOff;
  }
  if (toggle) {
    showSound();
    toggle.addEventListener("click", function () {
      soundOn = !soundOn;
      try {
        window.localStorage.setItem(SOUND_KEY, soundOn ? "on" : "off");
      } catch (e) {
        /* private mode: the choice lasts for this page only */
      }
      if (soundOn && sound) sound.resume().then(beep);
      showSound();
    });
  }
  // Browsers start audio only after a gesture: unlock it at the first click or key press.
  ["click", "keydown"].forEach(function (type) {
    document.addEventListener(
      type,
      function () {
        if (soundOn && sound) sound.resume();
      },
      { once: true }
    );
  });

  var banner = document.querySelector("[data-live-alert]");
  var title = document.title;
  if (banner) {
    banner.querySelector("[data-live-alert-close]").addEventListener("click", function () {
      banner.hidden = true;
      if (mode === "board") document.title = title;
    });
  }

  function announce(fresh) {
    if (!fresh.length) return;
    var text =
      fresh.length === 1
        ? fmt(T.newDispatch, { agency: fresh[0].agency_name, subject: fresh[0].subject })
        : fmt(T.newDispatches, { n: fresh.length });
    if (banner) {
      setText(banner.querySelector("[data-live-alert-text]"), text);
      banner.hidden = false;
    }
    if (mode !== "board") return; // the inbox's title and sound are alerts.js's
    document.title = "(" + fresh.length + ") " + title;
    beep();
  }

  // The "updated at" line is quiet; only a lost connection is announced (role=alert).
  function setStatus(text, problem) {
    var line = document.querySelector("[data-live-status]");
    if (!line) return;
    if (problem) line.setAttribute("role", "alert");
    else line.removeAttribute("role");
    setText(line, text);
    line.classList.toggle("is-problem", !!problem);
  }

  // The list pages (board, wall, inbox) -----------------------------------------------------

  var seen = {};
  items().forEach(function (el) {
    seen[el.getAttribute("data-id")] = true;
  });

  function renderList(data) {
    var list = data.dispatches;
    var container = root.querySelector("[data-live-list]");
    var existing = {};
    Array.prototype.slice.call(container.children).forEach(function (el) {
      if (el.classList.contains("live-item")) existing[el.getAttribute("data-id")] = el;
    });
    var fresh = [];
    list.forEach(function (d, index) {
      var id = String(d.id);
      var el = existing[id];
      if (!el) {
        el = create(d);
        if (!seen[id] && (mode === "board" || !d.acknowledged_at)) {
          fresh.push(d);
          el.classList.add("is-new");
        }
      }
      seen[id] = true;
      delete existing[id];
      update(el, d);
      var at = container.children[index];
      if (at !== el) container.insertBefore(el, at || null);
    });
    Object.keys(existing).forEach(function (id) {
      existing[id].remove();
    });
    var empty = root.querySelector("[data-live-empty]");
    if (empty) empty.hidden = list.length > 0;
    setText(root.querySelector('[data-count="open"]'), fmt(T.openCount, { n: list.length }));
    var waiting = list.filter(function (d) {
      return !d.acknowledged_at;
    }).length;
    setText(root.querySelector('[data-count="waiting"]'), fmt(T.waitingCount, { n: waiting }));
    showEarlier(data.earlier_open);
    announce(fresh);
  }

  // How many open dispatches from earlier days wait for the end of day (not listed here).
  function showEarlier(count) {
    var line = root.querySelector("[data-earlier]");
    if (!line || typeof count !== "number") return;
    var cap = parseInt(line.getAttribute("data-earlier-cap"), 10);
    var n = String(count) + (!isNaN(cap) && count >= cap ? "+" : "");
    setText(field(line, "earlier-count"), fmt(T.earlierCount, { n: n }));
    line.hidden = count === 0;
  }

  // The dispatch page -------------------------------------------------------------------------

  var ended = false;

  function renderOne(list) {
    var id = root.getAttribute("data-id");
    var d = list.filter(function (x) {
      return String(x.id) === id;
    })[0];
    var badge = document.querySelector('[data-field="state-badge"]');
    if (d) {
      update(root, d);
      if (T.states && T.states[d.state]) setText(badge, T.states[d.state]);
      if (d.acknowledged_at) {
        var byPhone = document.querySelector("[data-ack-by-phone]");
        if (byPhone) byPhone.hidden = true;
      }
      return;
    }
    // Not on the live list: ended (arrived, cancelled, transferred), or still open from an
    // earlier day (the live list shows today's): ask for it.
    ended = true;
    var one = root.getAttribute("data-one");
    fetch(one, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (data) {
        if (data && (data.state === "notified" || data.state === "acknowledged")) {
          ended = false; // still open: keep ticking and polling
          etag = null; // its changes do not change the live list's validator: ask afresh
          update(root, data);
          window.setTimeout(poll, POLL_MS);
          return;
        }
        var state = data && T.states ? T.states[data.state] || data.state : "";
        if (data && T.states) setText(badge, state);
        var actions = document.querySelector("[data-open-actions]");
        if (actions) actions.hidden = true;
        if (banner) {
          var text = banner.querySelector("[data-live-alert-text]");
          text.textContent = "";
          text.appendChild(document.createTextNode(fmt(T.ended, { state: state }) + " "));
          var link = document.createElement("a");
          link.href = window.location.pathname;
          link.textContent = "↻";
          text.appendChild(link);
          banner.hidden = false;
        }
        root.classList.remove("urgency-ok", "urgency-warn", "urgency-overdue");
        root.removeAttribute("data-deadline");
      })
      .catch(function () {
        /* the banner stays hidden; the next reload shows the result */
      });
  }

  // Polling -------------------------------------------------------------------------------

  var etag = null; // the validator of the list this page shows

  function poll() {
    var sent = Date.now();
    var headers = { Accept: "application/json", "X-CityDesk-Poll": "1" };
    if (etag) headers["If-None-Match"] = etag;
    fetch(source, { headers: headers, credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (response.status === 401) {
          setStatus(T.signedOut, true);
          return null;
        }
        if (response.status === 304) {
          // Unchanged: what the page shows stands; the countdowns tick on by themselves.
          tick();
          setStatus(fmt(T.live, { time: hhmmss(serverNow()) }), false);
          return null;
        }
        if (!response.ok) throw new Error("HTTP " + response.status);
        var tag = response.headers.get("ETag");
        return response.json().then(function (data) {
          etag = tag;
          return data;
        });
      })
      .then(function (data) {
        if (!data) return;
        var received = Date.now();
        var server = Date.parse(data.server_time);
        if (!isNaN(server)) offset = server - (sent + received) / 2;
        document.dispatchEvent(new CustomEvent("citydesk:feed", { detail: data }));
        if (data.locked && mode !== "lock" && !locksInPlace) {
          window.location.reload(); // the server shows the lock screen instead of this page
          return;
        }
        if (data.locked || mode === "lock") {
          setStatus(fmt(T.live, { time: hhmmss(serverNow()) }), false);
          return; // a locked page shows nothing of the dispatches (alerts.js alerts)
        }
        if (mode === "dispatch") renderOne(data.dispatches);
        else renderList(data);
        tick();
        setStatus(fmt(T.live, { time: hhmmss(serverNow()) }), false);
      })
      .catch(function () {
        etag = null; // start afresh after an error
        setStatus(T.connectionLost, true);
      })
      .then(function () {
        if (!ended) window.setTimeout(poll, POLL_MS);
      });
  }

  tick();
  window.setInterval(tick, TICK_MS);
  if (source) poll(); // without a feed (the acknowledgement link's page) the clock only ticks
})();
