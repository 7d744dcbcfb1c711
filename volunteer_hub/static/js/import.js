/* Import progress: follow the worker, then show the result (the page itself, reloaded). */
(function () {
  "use strict";

  function follow(box) {
    var bar = box.querySelector("progress");
    var format = new Intl.NumberFormat(document.documentElement.lang || "vi");
    function poll() {
      fetch(box.getAttribute("data-url"), { credentials: "same-origin" })
        .then(function (response) { return response.json(); })
        .then(function (data) {
          bar.max = Math.max(data.rows_total, 1);
          bar.value = data.rows_done;
          box.querySelectorAll("[data-field]").forEach(function (el) {
            var value = data[el.getAttribute("data-field")];
            el.textContent = typeof value === "number" ? format.format(value) : value;
          });
          if (data.finished) {
            window.location.reload();
            return;
          }
          window.setTimeout(poll, 1000);
        })
        .catch(function () { window.setTimeout(poll, 3000); });
    }
    window.setTimeout(poll, 1000);
  }

  var box = document.getElementById("import-progress");
  if (box) { follow(box); }
})();
