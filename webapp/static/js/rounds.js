/* Walking a round on a phone: one tap per check, nothing reloads, the place is kept.

   A "no defect" tap or a finding (with photos taken by the camera and shrunk here) goes into
   the phone's queue (queue.js) and is sent from there, online at once, offline when the
   connection returns. The page shows what waits as done-pending, on top of the page as the
   server (or, offline, the service worker's copy) rendered it; floors switch without a
   request; progress per floor and per category follows each tap. Without script the forms
   and links of the page work as plain requests. */
(function () {
  "use strict";

  var root = document.getElementById("round");
  var queue = window.CityDeskQueue;
  if (!root || !queue || !window.indexedDB) { return; }
  var roundId = Number(root.dataset.round);
  var total = Number(root.dataset.categories);
  var strings = JSON.parse(root.dataset.i18n || "{}");
  var dialog = document.getElementById("finding-dialog");
  var findingForm = document.getElementById("finding-inline");
  var sentHere = 0;

  function text(key, n) { return (strings[key] || key).replace("{n}", n); }

  function cell(floor, category) {
    return root.querySelector("li.check[data-floor='" + floor + "'][data-category='" + category + "']");
  }

  function badge(className, label, pending) {
    var span = document.createElement("span");
    span.className = "badge " + className;
    span.textContent = label + (pending ? " · " + text("pending") : "");
    return span;
  }

  /* Show a check as recorded: "ok" or a finding; `pending` while it waits to be sent. */
  function mark(li, result, pending) {
    var state = li.querySelector("[data-check-state]");
    var form = li.querySelector("form[data-check-form]");
    li.classList.remove("check-ok", "check-defects", "check-refused");
    li.classList.toggle("check-pending", pending);
    if (result === "ok") {
      li.classList.add("check-ok");
      state.replaceChildren(badge("ok", "✓ " + text("noDefect"), pending));
    } else {
      var count = Number(li.dataset.findings || 0);
      li.classList.add("check-defects");
      state.replaceChildren(badge("bad", text(count === 1 ? "findingsOne" : "findingsMany", count), pending));
      var label = li.querySelector("[data-finding-label]");
      if (label) { label.textContent = text("addAnother"); }
    }
    if (form) { form.hidden = true; }
    progress();
  }

  function unmark(li) {
    li.classList.remove("check-pending", "check-ok");
    li.classList.add("check-refused");
    var form = li.querySelector("form[data-check-form]");
    if (form && Number(li.dataset.findings || 0) === 0) {
      form.hidden = false;
      li.querySelector("[data-check-state]").replaceChildren(badge("", text("notChecked"), false));
    }
    progress();
  }

  function isDone(li) { return li.classList.contains("check-ok") || li.classList.contains("check-defects"); }

  /* Progress per floor (tabs), per category, and the checks still open. */
  function progress() {
    var open = 0;
    root.querySelectorAll("[data-floor-panel]").forEach(function (panel) {
      var floor = panel.dataset.floorPanel;
      var done = Array.prototype.filter.call(panel.querySelectorAll("li.check"), isDone).length;
      open += total - done;
      var tab = root.querySelector(".floor-tabs [data-floor-tab='" + floor + "']");
      if (tab) {
        tab.querySelector("[data-floor-progress]").textContent = done + "/" + total;
        tab.classList.toggle("complete", done === total);
      }
    });
    root.querySelectorAll("[data-category-progress]").forEach(function (item) {
      var cells = root.querySelectorAll("li.check[data-category='" + item.dataset.categoryProgress + "']");
      var done = Array.prototype.filter.call(cells, isDone).length;
      item.querySelector("[data-count]").textContent = done + "/" + cells.length;
    });
    var missing = root.querySelector("[data-missing]");
    if (missing) {
      missing.textContent = open ? text(open === 1 ? "missingOne" : "missingMany", open) : text("allDone");
    }
  }

  function showFloor(code, push) {
    var found = false;
    root.querySelectorAll("[data-floor-panel]").forEach(function (panel) {
      var here = panel.dataset.floorPanel === code;
      panel.hidden = !here;
      found = found || here;
    });
    if (!found) { return false; }
    root.querySelectorAll(".floor-tabs [data-floor-tab]").forEach(function (tab) {
      if (tab.dataset.floorTab === code) { tab.setAttribute("aria-current", "page"); } else { tab.removeAttribute("aria-current"); }
    });
    if (push) {
      var url = new URL(location.href);
      url.searchParams.set("floor", code);
      history.replaceState(null, "", url.toString());
    }
    return true;
  }

  function label(li, what) {
    return li.dataset.floor + " " + li.dataset.categoryName + " · " + what;
  }

  function tapNoDefect(event) {
    var form = event.target.closest("form[data-check-form]");
    if (!form) { return; }
    event.preventDefault();
    var li = form.closest("li.check");
    var floor = form.querySelector("input[name=floor]").value;
    var category = form.querySelector("input[name=category]").value;
    mark(li, "ok", true);
    var next = li.parentElement.querySelector("li.check:not(.check-ok):not(.check-defects) form[data-check-form] button");
    if (next) { next.focus({ preventScroll: true }); }
    queue.add({
      kind: "check", round: roundId, url: root.dataset.checksUrl,
      fields: { floor: floor, category: category }, label: label(li, text("noDefect"))
    });
  }

  function openFinding(event) {
    var link = event.target.closest("a[data-finding-link]");
    if (!link || !dialog || !dialog.showModal) { return; }
    event.preventDefault();
    var li = link.closest("li.check");
    findingForm.reset();
    findingForm.querySelector("input[name=floor]").value = li.dataset.floor;
    findingForm.querySelector("input[name=category]").value = li.dataset.category;
    dialog.querySelector("[data-finding-place]").textContent = li.dataset.floor + " · " + li.dataset.categoryName;
    findingForm.querySelector("input[name=fixed_on_spot]").dispatchEvent(new Event("change"));
    dialog.showModal();
  }

  function saveFinding(event) {
    event.preventDefault();
    var data = new FormData(findingForm);
    var floor = data.get("floor");
    var category = data.get("category");
    var li = cell(floor, category);
    var fixed = data.get("fixed_on_spot") ? "true" : "false";
    var submit = findingForm.querySelector("[type=submit]");
    submit.disabled = true;
    Promise.all([
      window.CityDeskPhotos.shrinkAll(findingForm.querySelector("input[name=photos]").files, true),
      window.CityDeskPhotos.shrinkAll(fixed === "true" ? findingForm.querySelector("input[name=after_photos]").files : [], true)
    ]).then(function (photos) {
      return queue.add({
        kind: "finding", round: roundId, url: root.dataset.findingsUrl,
        fields: {
          floor: floor, category: category, location: data.get("location") || "",
          description: data.get("description") || "", fixed_on_spot: fixed,
          fix_note: fixed === "true" ? data.get("fix_note") || "" : ""
        },
        files: { photo: photos[0], after_photo: photos[1] },
        label: label(li, String(data.get("description") || "").slice(0, 40))
      });
    }).then(function () {
      li.dataset.findings = String(Number(li.dataset.findings || 0) + 1);
      mark(li, "defects", true);
      dialog.close();
    }).finally(function () { submit.disabled = false; });
  }

  /* What waits in the queue for this round shows as done-pending on the page. */
  function overlay() {
    return queue.all().then(function (items) {
      items.forEach(function (item) {
        if (item.round !== roundId || item.state !== "waiting") { return; }
        var li = cell(item.fields.floor, item.fields.category);
        if (!li) { return; }
        if (item.kind === "finding") {
          li.dataset.findings = String(Number(li.dataset.findings || 0) + 1);
          mark(li, "defects", true);
        } else {
          mark(li, "ok", true);
        }
      });
    });
  }

  queue.onChange(function (event) {
    var item = event.sent || event.refused;
    if (item && item.round === roundId) {
      var li = cell(item.fields.floor, item.fields.category);
      if (li && event.sent) { mark(li, item.kind === "finding" ? "defects" : "ok", false); sentHere += 1; }
      if (li && event.refused && item.kind === "check") { unmark(li); }
    }
    if (event.outcome === "done" && sentHere) {
      sentHere = 0;
      // keep the service worker's copy of this page up to date for a reload offline
      root.dataset.saved = "0";
      fetch(location.href, { credentials: "same-origin", cache: "no-store" })
        .then(function () { root.dataset.saved = "1"; }, function () {});
    }
  });

  root.addEventListener("submit", function (event) {
    if (event.target.matches("form[data-check-form]")) { tapNoDefect(event); }
  });
  root.addEventListener("click", function (event) {
    openFinding(event);
    var tab = event.target.closest("a[data-floor-tab]");
    if (tab && showFloor(tab.dataset.floorTab, true)) { event.preventDefault(); }
    if (event.target.closest("[data-finding-cancel]")) { dialog.close(); }
  });
  if (findingForm) { findingForm.addEventListener("submit", saveFinding); }

  var finish = document.getElementById("finish-form");
  if (finish) {
    finish.addEventListener("submit", function (event) {
      var note = finish.querySelector("[data-finish-wait]");
      if (finish.dataset.confirmed === "1") { return; }
      event.preventDefault();
      queue.all().then(function (items) {
        var waiting = items.some(function (item) { return item.round === roundId && item.state === "waiting"; });
        note.hidden = !waiting;
        note.textContent = waiting ? text("finishWait") : "";
        if (!waiting) { finish.dataset.confirmed = "1"; finish.requestSubmit(); }
      });
    });
  }

  var wanted = new URL(location.href).searchParams.get("floor");
  if (wanted) { showFloor(wanted, false); }
  overlay();
})();
