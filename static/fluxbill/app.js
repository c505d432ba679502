// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";

  // "2026-12-04 19:05 GMT+1": the shape the server writes in UTC, in the viewer's zone and named.
  function sameShape(when, seconds) {
    var pad = function (n) { return String(n).padStart(2, "0"); };
    var text = when.getFullYear() + "-" + pad(when.getMonth() + 1) + "-" + pad(when.getDate()) + " " +
      pad(when.getHours()) + ":" + pad(when.getMinutes()) + (seconds ? ":" + pad(when.getSeconds()) : "");
    var zone = new Intl.DateTimeFormat(undefined, { timeZoneName: "short" }).formatToParts(when)
      .filter(function (part) { return part.type === "timeZoneName"; })[0];
    return text + " " + (zone ? zone.value : "");
  }

  function localTimes(root) {
    root.querySelectorAll("time[data-local]").forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (isNaN(when)) return;
      el.textContent = sameShape(when, el.hasAttribute("data-seconds"));
    });
  }

  function confirmations(root) {
    root.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
      });
    });
  }

  function copyButtons(root) {
    root.querySelectorAll("[data-copy]").forEach(function (button) {
      button.addEventListener("click", function () {
        var target = document.getElementById(button.getAttribute("data-copy"));
        var text = target ? (target.value || target.textContent).trim() : "";
        var done = function () { button.textContent = "Copied"; setTimeout(function () { button.textContent = "Copy"; }, 1500); };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(text).then(done);
        } else {
          var area = document.createElement("textarea");
          area.value = text; document.body.appendChild(area); area.select();
          try { document.execCommand("copy"); done(); } finally { area.remove(); }
        }
      });
    });
  }

  // A page answering a POST (a new API key, shown once) moves its address to a GET URL, so a reload
  // asks for that page instead of submitting the form again.
  function replaceUrl(root) {
    var el = root.querySelector("[data-replace-url]");
    if (el && window.history && history.replaceState) { history.replaceState(null, "", el.getAttribute("data-replace-url")); }
  }

  // A form with data-preview-url shows what it would do as it is filled in: its fields go to that URL
  // with fragment=1 (a GET: nothing is stored) and the HTML answer replaces #price-preview or the
  // element data-preview-target names. Without it, the form's Preview button posts the same form.
  function livePreviews(root) {
    root.querySelectorAll("form[data-preview-url]").forEach(function (form) {
      var url = form.getAttribute("data-preview-url");
      var selector = form.getAttribute("data-preview-target") || "#price-preview";
      var target = form.querySelector(selector) || document.querySelector(selector);
      if (!target) return;
      var timer = null;
      var latest = 0;

      function refresh() {
        var params = new URLSearchParams();
        new FormData(form).forEach(function (value, key) {
          if (key !== "csrfmiddlewaretoken" && key !== "preview") params.append(key, value);
        });
        params.set("fragment", "1");
        var ticket = ++latest;
        fetch(url + "?" + params.toString(), { headers: { "X-Requested-With": "fetch" }, credentials: "same-origin" })
          .then(function (response) { return response.ok || response.status === 400 ? response.text() : Promise.reject(response.status); })
          .then(function (html) {
            if (ticket !== latest) return; // an older answer arriving after a newer one
            target.innerHTML = html;
          })
          .catch(function () { /* keep the last preview; the Preview button still works */ });
      }

      function schedule() {
        clearTimeout(timer);
        timer = setTimeout(refresh, 250);
      }
      form.addEventListener("input", schedule);
      form.addEventListener("change", schedule);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    replaceUrl(document);
    localTimes(document);
    confirmations(document);
    copyButtons(document);
    livePreviews(document);
  });
  window.Fluxbill = { localTimes: localTimes };
})();
