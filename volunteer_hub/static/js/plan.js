/* Planning pages: the progress bar follows the planner; the review map draws the teams. */
(function () {
  "use strict";

  var COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                 "#e377c2", "#17becf", "#bcbd22", "#393b79", "#637939", "#843c39"];

  function followProgress(box) {
    var bar = box.querySelector("progress");
    function poll() {
      fetch(box.getAttribute("data-url"), { credentials: "same-origin" })
        .then(function (response) { return response.json(); })
        .then(function (data) {
          bar.max = data.time_limit_s;
          bar.value = Math.min(data.elapsed_s, data.time_limit_s);
          box.querySelectorAll("[data-field]").forEach(function (el) {
            var value = data[el.getAttribute("data-field")];
            var digits = el.getAttribute("data-digits");
            if (value === null || value === undefined) {
              el.textContent = "–";
            } else if (digits !== null && typeof value === "number") {
              // The page's language decides the digits: 1.357 in Vietnamese, 1,357 in English.
              el.textContent = new Intl.NumberFormat(document.documentElement.lang || "vi", {
                maximumFractionDigits: Number(digits),
                minimumFractionDigits: Number(digits)
              }).format(value);
            } else {
              el.textContent = value;
            }
          });
          if (data.status === "done" || data.status === "failed" || data.status === "cancelled") {
            bar.value = bar.max;
            window.location.assign(box.getAttribute("data-done-url"));
            return;
          }
          window.setTimeout(poll, 1000);
        })
        .catch(function () { window.setTimeout(poll, 3000); });
    }
    poll();
  }

  function drawMap(box) {
    var script = document.createElement("script");
    script.src = box.getAttribute("data-leaflet-js");
    script.onload = function () {
      fetch(box.getAttribute("data-url"), { credentials: "same-origin" })
        .then(function (response) { return response.json(); })
        .then(function (data) { render(box, data); });
    };
    document.head.appendChild(script);
  }

  function render(box, data) {
    var L = window.L;
    var map = L.map(box);
    L.tileLayer(box.getAttribute("data-tiles"), {
      maxZoom: 19, attribution: box.getAttribute("data-attribution")
    }).addTo(map);
    var bounds = [];
    data.teams.forEach(function (team) {
      var colour = COLOURS[team.colour % COLOURS.length];
      var line = [];
      if (team.start) {
        L.circleMarker(team.start, { radius: 7, color: "#000", weight: 2, fillColor: colour, fillOpacity: 1 })
          .bindTooltip(team.code).addTo(map);
        bounds.push(team.start);
      }
      var shift = null;
      team.stops.forEach(function (stop) {
        if (shift !== null && stop.shift !== shift) {
          L.polyline(line, { color: colour, weight: 3, opacity: 0.8 }).addTo(map);
          line = team.start ? [team.start] : [];
        }
        shift = stop.shift;
        var point = [stop.lat, stop.lng];
        line.push(point);
        bounds.push(point);
        L.circleMarker(point, { radius: 8, color: colour, weight: 2, fillColor: colour, fillOpacity: 0.85 })
          .bindTooltip(team.code + " · " + stop.seq + " · " + stop.time + " · " + stop.reference)
          .on("click", function () {
            var item = document.getElementById("visit-" + stop.reference);
            if (item) { item.scrollIntoView({ behavior: "smooth", block: "center" }); }
          })
          .addTo(map);
      });
      if (line.length > 1) { L.polyline(line, { color: colour, weight: 3, opacity: 0.8 }).addTo(map); }
    });
    data.left_out.forEach(function (visit) {
      var point = [visit.lat, visit.lng];
      bounds.push(point);
      L.circleMarker(point, { radius: 7, color: "#616161", weight: 2, fillColor: "#9e9e9e", fillOpacity: 0.9 })
        .bindTooltip(visit.reference + " · " + (visit.detail || visit.reason || ""))
        .addTo(map);
    });
    if (bounds.length) { map.fitBounds(bounds, { padding: [20, 20] }); } else { map.setView([16.4637, 107.5909], 13); }
  }

  var progress = document.getElementById("plan-progress");
  if (progress) { followProgress(progress); }
  var mapBox = document.getElementById("plan-map");
  if (mapBox) { drawMap(mapBox); }
})();
