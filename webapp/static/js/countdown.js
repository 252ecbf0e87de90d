/*
 * CityDesk's countdown words, shared by live.js (the live lists' clocks) and alerts.js (the
 * agency's notifications): loaded before them on every page that ticks. Plain JavaScript.
 *
 * - fmt(text, vars): fills the {name} slots of a translated string (an unknown one stays).
 * - pad(n): two digits (07).
 * - clockText(seconds): mm:ss (a negative number of seconds reads 00:00).
 */
(function () {
  "use strict";

  function fmt(text, vars) {
    return String(text || "").replace(/\{(\w+)\}/g, function (match, key) {
      return Object.prototype.hasOwnProperty.call(vars, key) ? String(vars[key]) : match;
    });
  }

  function pad(n) {
    return n < 10 ? "0" + n : String(n);
  }

  function clockText(seconds) {
    seconds = Math.max(0, seconds);
    return pad(Math.floor(seconds / 60)) + ":" + pad(seconds % 60);
  }

  window.CityDeskCountdown = { fmt: fmt, pad: pad, clockText: clockText };
})();
