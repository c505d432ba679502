// The charge form and price calculator, enhanced: add/remove tier rows, show only the fields the
// chosen charge type and pricing model use (the live "what would N units cost" preview is app.js's).
// Without this file the form still works: five tier rows, every field shown, a Preview button.
(function () {
  "use strict";

  var MAX_ROWS = 100;

  // style.display rather than the hidden attribute: app.css gives buttons display:inline-block.
  function show(el, visible) {
    el.style.display = visible ? "" : "none";
  }

  function tierEditor(form) {
    var table = form.querySelector("[data-tier-table]");
    if (!table) return;
    var body = table.tBodies[0];
    var addButton = form.querySelector("[data-add-tier]");

    function renumber() {
      var rows = body.querySelectorAll("[data-tier-row]");
      rows.forEach(function (row, index) {
        row.querySelector("[data-tier-number]").textContent = String(index + 1);
        row.querySelectorAll("input").forEach(function (input) {
          var label = input.getAttribute("aria-label") || "";
          input.setAttribute("aria-label", label.replace(/^Tier \d+/, "Tier " + (index + 1)));
          if (input.name === "tier_up_to") {
            input.placeholder = index === rows.length - 1 ? "blank: no limit" : "";
          }
        });
        show(row.querySelector("[data-remove-tier]"), rows.length > 1);
      });
      if (addButton) addButton.disabled = rows.length >= MAX_ROWS;
    }

    function addRow() {
      var rows = body.querySelectorAll("[data-tier-row]");
      var copy = rows[rows.length - 1].cloneNode(true);
      copy.querySelectorAll("input").forEach(function (input) { input.value = ""; });
      copy.querySelectorAll(".error").forEach(function (error) { error.remove(); });
      copy.querySelectorAll(".has-error").forEach(function (cell) { cell.classList.remove("has-error"); });
      body.appendChild(copy);
      renumber();
      copy.querySelector("input").focus();
    }

    body.addEventListener("click", function (event) {
      var button = event.target.closest("[data-remove-tier]");
      if (!button) return;
      button.closest("[data-tier-row]").remove();
      renumber();
      form.dispatchEvent(new Event("input", { bubbles: true }));
    });
    if (addButton) {
      show(addButton, true);
      addButton.addEventListener("click", addRow);
    }
    renumber();
  }

  function checkedValue(form, name) {
    var field = form.querySelector('[name="' + name + '"]:checked') || form.querySelector('select[name="' + name + '"]');
    return field ? field.value : "";
  }

  function visibility(form) {
    function apply() {
      var type = checkedValue(form, "type");
      var model = checkedValue(form, "pricing_model") || "per_unit";
      form.querySelectorAll("[data-charge-type]").forEach(function (el) {
        show(el, !type || el.getAttribute("data-charge-type") === type);
      });
      form.querySelectorAll("[data-models]").forEach(function (el) {
        show(el, el.getAttribute("data-models").split(" ").indexOf(model) !== -1);
      });
    }
    form.addEventListener("change", apply);
    apply();
  }

  document.addEventListener("DOMContentLoaded", function () {
    ["charge-form", "calculator"].forEach(function (id) {
      var form = document.getElementById(id);
      if (!form) return;
      tierEditor(form);
      visibility(form);
    });
  });
})();
