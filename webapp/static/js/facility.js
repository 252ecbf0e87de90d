/* Facility pages: the duplicate hint on the report form, the fixed-on-the-spot fields of a
   finding, the print button, and photos shrunk on the phone before upload. Progressive: every
   page works without this file. */
(function () {
  "use strict";

  var MAX_SIDE = 1600;  // the long side of a photo as sent (the server's display size)
  var QUALITY = 0.8;
  var KEEP_BYTES = 1500000;  // a photo this small and no larger than MAX_SIDE is sent as is

  /* A photo shrunk to at most MAX_SIDE px on its long side, as JPEG; the file itself when
     the browser cannot decode it (the server still checks whatever arrives). */
  function shrink(file, always) {
    if (!window.createImageBitmap || !file.type || file.type.indexOf("image/") !== 0) {
      return Promise.resolve(file);
    }
    return createImageBitmap(file, { imageOrientation: "from-image" }).then(function (bitmap) {
      var scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
      if (!always && scale === 1 && file.size <= KEEP_BYTES) { bitmap.close(); return file; }
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      bitmap.close();
      return new Promise(function (resolve) {
        canvas.toBlob(function (blob) {
          if (!blob) { resolve(file); return; }
          var name = (file.name || "photo").replace(/\.[^.]*$/, "") + ".jpg";
          resolve(new File([blob], name, { type: "image/jpeg" }));
        }, "image/jpeg", QUALITY);
      });
    }, function () { return file; });
  }

  function shrinkAll(files, always) {
    return Promise.all(Array.prototype.map.call(files || [], function (f) { return shrink(f, always); }));
  }

  /* A plain form's photo inputs: the chosen photos are replaced by shrunk copies; a submit
     waits until they are ready. */
  function shrinkOnChange(form) {
    var busy = 0;
    var waiting = null;
    form.querySelectorAll("input[type=file]").forEach(function (input) {
      input.addEventListener("change", function () {
        if (!window.DataTransfer || !input.files.length) { return; }
        busy += 1;
        shrinkAll(input.files, false).then(function (files) {
          var transfer = new DataTransfer();
          files.forEach(function (f) { transfer.items.add(f); });
          input.files = transfer.files;
        }).finally(function () {
          busy -= 1;
          if (!busy && waiting) { var submitter = waiting; waiting = null; form.requestSubmit(submitter.button || undefined); }
        });
      });
    });
    form.addEventListener("submit", function (event) {
      if (busy) { event.preventDefault(); waiting = { button: event.submitter }; }
    });
  }

  window.CityDeskPhotos = { shrink: shrink, shrinkAll: shrinkAll };

  function duplicateHint(form) {
    var box = document.getElementById("similar");
    var checked = form.querySelector("input[name=duplicate_checked]");
    var zone = form.querySelector("select[name=zone]");
    var floor = form.querySelector("select[name=floor]");
    if (!box || !checked || !zone || !floor) { return; }
    var serial = 0;

    function category() {
      var picked = form.querySelector("input[name=category]:checked");
      return picked ? picked.value : "";
    }

    function render(items) {
      box.textContent = "";
      if (!items.length) { box.hidden = true; return; }
      var title = document.createElement("h2");
      title.textContent = form.dataset.similarTitle;
      var help = document.createElement("p");
      help.className = "hint";
      help.textContent = form.dataset.similarHelp;
      var list = document.createElement("ul");
      list.className = "similar-list";
      items.forEach(function (item) {
        var li = document.createElement("li");
        var text = document.createElement("span");
        var strong = document.createElement("strong");
        strong.textContent = "#" + item.id + " ";
        text.appendChild(strong);
        text.appendChild(document.createTextNode(item.state_label + " · " + item.place + " — " + item.description));
        var button = document.createElement("button");
        button.type = "submit";
        button.className = "button";
        button.name = "add_to";
        button.value = item.id;
        button.textContent = form.dataset.addLabel.replace("{id}", item.id);
        li.appendChild(text);
        li.appendChild(button);
        list.appendChild(li);
      });
      box.appendChild(title);
      box.appendChild(help);
      box.appendChild(list);
      box.hidden = false;
    }

    function refresh() {
      checked.value = "0";
      if (!zone.value || !floor.value || !category()) { render([]); return; }
      var mine = ++serial;
      var url = form.dataset.similarUrl + "?" + new URLSearchParams({
        zone: zone.value, floor: floor.value, category: category()
      }).toString();
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) {
          if (mine !== serial || !data) { return; }
          render(data.items || []);
          checked.value = "1";
        })
        .catch(function () { /* the server shows the hint on submit instead */ });
    }

    form.addEventListener("change", function (event) {
      var name = event.target.name;
      if (name === "zone" || name === "floor" || name === "category") { refresh(); }
    });
    refresh();
  }

  function fixFields(form) {
    var toggle = form.querySelector("input[name=fixed_on_spot]");
    var fields = document.getElementById("fix-fields");
    if (!toggle || !fields) { return; }
    var errors = fields.querySelector(".error");
    function sync() { fields.hidden = !toggle.checked && !errors; }
    toggle.addEventListener("change", function () { errors = null; sync(); });
    sync();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var report = document.getElementById("report-form");
    if (report) { duplicateHint(report); }
    var finding = document.getElementById("finding-form");
    if (finding) { fixFields(finding); }
    var inline = document.getElementById("finding-inline");
    if (inline) { fixFields(inline); }
    document.querySelectorAll("form[enctype='multipart/form-data']").forEach(function (form) {
      if (form !== inline) { shrinkOnChange(form); }
    });
    document.querySelectorAll(".js-only").forEach(function (el) { el.hidden = false; });
    document.querySelectorAll("[data-check-all], [data-check-none]").forEach(function (button) {
      var name = button.dataset.checkAll || button.dataset.checkNone;
      var value = Boolean(button.dataset.checkAll);
      button.addEventListener("click", function () {
        document.querySelectorAll("input[type=checkbox][name=" + name + "]").forEach(function (box) {
          box.checked = value;
        });
      });
    });
    document.querySelectorAll("[data-print]").forEach(function (button) {
      button.addEventListener("click", function () { window.print(); });
    });
  });
})();
