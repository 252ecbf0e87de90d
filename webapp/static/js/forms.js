/*
 * CityDesk forms, on every page. Plain JavaScript; every form works without it.
 *
 * 1. A field's error (rendered by the server under the field: the `field` macro of
 *    templates/_macros.html) goes away as soon as the field is corrected: on input or change,
 *    when the value differs from the refused one and meets the field's own constraints
 *    (required, pattern, type, min/max, maxlength), the message, aria-invalid and the line of
 *    the error summary that pointed at it are taken away.
 * 2. The agency field (an input with list="agency-list") becomes an accessible combobox: as
 *    one types it offers the agencies whose Chinese name, English name or code contain the
 *    text, marks the part that matched, and is worked with the arrow keys, Enter and Escape.
 *    The agencies come from the page's <datalist id="agency-list"> (the fallback without
 *    script).
 */
(function () {
  "use strict";

  // 1. Errors cleared as soon as the field is corrected ------------------------------------

  function refused(input) {
    return input.getAttribute("aria-invalid") === "true";
  }

  Array.prototype.forEach.call(document.querySelectorAll('[aria-invalid="true"]'), function (input) {
    input.setAttribute("data-refused-value", input.value);
  });

  function clearError(input) {
    var errorId = input.id + "-error";
    var error = document.getElementById(errorId);
    if (error) error.parentNode.removeChild(error);
    input.removeAttribute("aria-invalid");
    var described = (input.getAttribute("aria-describedby") || "")
      .split(/\s+/)
      .filter(function (id) {
        return id && id !== errorId;
      });
    if (described.length) input.setAttribute("aria-describedby", described.join(" "));
    else input.removeAttribute("aria-describedby");
    var box = input.closest(".has-error");
    if (box && !box.querySelector('[aria-invalid="true"]')) box.classList.remove("has-error");
    // The summary at the top of the form lists the same error with a link to the field.
    Array.prototype.forEach.call(document.querySelectorAll(".error-summary a[href]"), function (a) {
      if (a.getAttribute("href") !== "#" + input.id) return;
      var item = a.closest("li");
      var list = item && item.parentNode;
      if (item) list.removeChild(item);
      var summary = list && list.closest(".error-summary");
      if (summary && !summary.querySelector("li")) summary.hidden = true;
    });
  }

  function corrected(event) {
    var input = event.target;
    if (!input || !input.getAttribute || !refused(input)) return;
    if (input.value === input.getAttribute("data-refused-value")) return;
    if (input.checkValidity && !input.checkValidity()) return;
    clearError(input);
  }

  document.addEventListener("input", corrected, true);
  document.addEventListener("change", corrected, true);

  // 2. The agency combobox -----------------------------------------------------------------

  var source = document.getElementById("agency-list");
  if (!source) return;

  var agencies = Array.prototype.map.call(source.querySelectorAll("option"), function (option) {
    return {
      value: option.value,
      zh: option.getAttribute("data-zh") || option.value,
      en: option.getAttribute("data-en") || "",
      code: option.getAttribute("data-code") || "",
      desk: option.hasAttribute("data-desk"),
    };
  });
  var T = {
    count: source.getAttribute("data-count-text") || "{n}",
    none: source.getAttribute("data-none-text") || "",
    desk: source.getAttribute("data-desk-text") || "",
  };
  var english = (document.documentElement.getAttribute("lang") || "").indexOf("en") === 0;

  function fold(text) {
    return String(text || "").toLowerCase();
  }

  // Where the query occurs in a text: [start, end] or null.
  function find(text, query) {
    var at = fold(text).indexOf(query);
    return at < 0 ? null : [at, at + query.length];
  }

  // A text with the matched part in <mark> (built with nodes: names are never HTML).
  function marked(text, span) {
    var out = document.createDocumentFragment();
    if (!span) {
      out.appendChild(document.createTextNode(text));
      return out;
    }
    out.appendChild(document.createTextNode(text.slice(0, span[0])));
    var mark = document.createElement("mark");
    mark.textContent = text.slice(span[0], span[1]);
    out.appendChild(mark);
    out.appendChild(document.createTextNode(text.slice(span[1])));
    return out;
  }

  function matches(query) {
    var q = fold(query.trim());
    if (!q) return [];
    var found = [];
    agencies.forEach(function (a, index) {
      var hit = { agency: a, zh: find(a.zh, q), en: find(a.en, q), code: find(a.code, q) };
      if (!hit.zh && !hit.en && !hit.code) return;
      var starts = [hit.zh, hit.en, hit.code].some(function (span) {
        return span && span[0] === 0;
      });
      hit.rank = (starts ? 0 : 1) * 1000 + index; // names that start with it first
      found.push(hit);
    });
    found.sort(function (a, b) {
      return a.rank - b.rank;
    });
    return found.slice(0, 12);
  }

  var counter = 0;

  function combobox(input) {
    counter += 1;
    var listId = input.id + "-options";
    var statusId = input.id + "-matches";
    input.removeAttribute("list"); // the datalist stays as the page's agency list only
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", listId);
    input.setAttribute("autocomplete", "off");

    var list = document.createElement("ul");
    list.id = listId;
    list.className = "combo-list";
    list.setAttribute("role", "listbox");
    var labels = input.labels && input.labels[0];
    if (labels) {
      if (!labels.id) labels.id = input.id + "-label-" + counter;
      list.setAttribute("aria-labelledby", labels.id);
    }
    list.hidden = true;
    var status = document.createElement("p");
    status.id = statusId;
    status.className = "visually-hidden";
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");
    var box = input.closest(".field") || input.parentNode;
    box.classList.add("combo");
    input.insertAdjacentElement("afterend", list);
    list.insertAdjacentElement("afterend", status);

    var shown = [];
    var active = -1;

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function setActive(index) {
      var items = list.querySelectorAll("[role=option]");
      if (!items.length) return;
      active = (index + items.length) % items.length;
      Array.prototype.forEach.call(items, function (item, i) {
        item.setAttribute("aria-selected", i === active ? "true" : "false");
        item.classList.toggle("is-active", i === active);
      });
      input.setAttribute("aria-activedescendant", items[active].id);
      items[active].scrollIntoView({ block: "nearest" });
    }

    function choose(index) {
      var hit = shown[index];
      if (!hit) return;
      input.value = hit.agency.value;
      close();
      status.textContent = "";
      input.dispatchEvent(new Event("change", { bubbles: true }));
    }

    function render() {
      shown = matches(input.value);
      list.textContent = "";
      active = -1;
      input.removeAttribute("aria-activedescendant");
      if (!input.value.trim()) {
        close();
        status.textContent = "";
        return;
      }
      if (!shown.length) {
        close();
        status.textContent = T.none;
        return;
      }
      shown.forEach(function (hit, i) {
        var a = hit.agency;
        var item = document.createElement("li");
        item.id = listId + "-" + i;
        item.setAttribute("role", "option");
        item.setAttribute("aria-selected", "false");
        item.setAttribute("data-value", a.value);
        var main = document.createElement("span");
        main.className = "combo-name";
        main.appendChild(english ? marked(a.en, hit.en) : marked(a.zh, hit.zh));
        var other = document.createElement("span");
        other.className = "combo-other";
        other.appendChild(english ? marked(a.zh, hit.zh) : marked(a.en, hit.en));
        other.appendChild(document.createTextNode(" · "));
        other.appendChild(marked(a.code, hit.code));
        if (a.desk && T.desk) other.appendChild(document.createTextNode(" · " + T.desk));
        item.appendChild(main);
        item.appendChild(other);
        // mousedown, not click: the input keeps the focus
        item.addEventListener("mousedown", function (event) {
          event.preventDefault();
          choose(i);
        });
        list.appendChild(item);
      });
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
      status.textContent = T.count.replace("{n}", String(shown.length));
    }

    input.addEventListener("input", render);
    input.addEventListener("blur", close);
    input.addEventListener("keydown", function (event) {
      var open = !list.hidden;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        if (!open) render();
        if (list.hidden) return;
        event.preventDefault();
        setActive(active < 0 ? (event.key === "ArrowDown" ? 0 : -1) : active + (event.key === "ArrowDown" ? 1 : -1));
      } else if (event.key === "Enter" && open && active >= 0) {
        event.preventDefault(); // choosing is not sending the form; the next Enter sends it
        choose(active);
      } else if (event.key === "Escape" && open) {
        event.preventDefault();
        close();
      } else if (event.key === "Tab") {
        close();
      }
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll('input[list="agency-list"]'), combobox);
})();
