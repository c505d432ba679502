// Search pickers: an <input list="…" data-search="customers|plans"> offers matches as one types.
// Without this file the field still takes an exact external id / lookup id.
(function () {
  "use strict";

  function picker(input) {
    var url = input.getAttribute("data-search-url");
    var list = document.getElementById(input.getAttribute("list"));
    if (!url || !list) return;
    var timer = null;
    var asked = "";
    input.addEventListener("input", function () {
      var query = input.value.trim();
      if (query === asked) return;
      clearTimeout(timer);
      timer = setTimeout(function () {
        asked = query;
        fetch(url + "?q=" + encodeURIComponent(query), { headers: { "Accept": "application/json" }, credentials: "same-origin" })
          .then(function (response) { return response.ok ? response.json() : { results: [] }; })
          .then(function (body) {
            if (asked !== query) return;  // an answer to an older query
            list.replaceChildren.apply(list, body.results.map(function (item) {
              var option = document.createElement("option");
              option.value = item.value;
              option.label = item.label + " (" + item.value + ")";
              option.textContent = option.label;
              return option;
            }));
            input.setAttribute("data-options", String(body.results.length));
          });
      }, 150);
    });
  }

  document.querySelectorAll("input[data-search-url]").forEach(picker);
})();
