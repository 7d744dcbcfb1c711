/* Progressive enhancement of the public forms. Everything works without this file. */
(function () {
  "use strict";

  function radioValue(form, name) {
    var checked = form.querySelector('input[name="' + name + '"]:checked');
    return checked ? checked.value : "";
  }

  // Show a block only when a radio has a given value: data-show-when="name=value".
  function wireShowWhen(form) {
    var blocks = form.querySelectorAll("[data-show-when]");
    function update() {
      blocks.forEach(function (block) {
        var rule = block.getAttribute("data-show-when").split("=");
        block.hidden = radioValue(form, rule[0]) !== rule[1];
      });
    }
    form.addEventListener("change", update);
    update();
  }

  // Guardian fields only for volunteers under 18 (shown while the date is unknown).
  function wireMinor(form) {
    var block = form.querySelector("[data-minor-only]");
    var input = form.querySelector('input[name="date_of_birth"]');
    if (!block || !input) { return; }
    function update() {
      if (!input.value) { block.hidden = false; return; }
      var born = new Date(input.value + "T00:00:00");
      var now = new Date();
      var age = now.getFullYear() - born.getFullYear();
      if (now.getMonth() < born.getMonth() ||
          (now.getMonth() === born.getMonth() && now.getDate() < born.getDate())) { age -= 1; }
      block.hidden = age >= 18;
    }
    input.addEventListener("change", update);
    update();
  }

  // The hamlet list follows the chosen commune.
  function wireHamlets(form) {
    var hamlets = form.querySelector("select[data-follows]");
    var commune = form.querySelector('select[name="' + (hamlets && hamlets.getAttribute("data-follows")) + '"]');
    if (!hamlets || !commune) { return; }
    function update() {
      hamlets.querySelectorAll("optgroup").forEach(function (group) {
        var match = group.getAttribute("data-commune") === commune.value;
        group.hidden = !match;
        group.disabled = !match;
      });
      var chosen = hamlets.options[hamlets.selectedIndex];
      if (chosen && chosen.parentNode.tagName === "OPTGROUP" && chosen.parentNode.disabled) {
        hamlets.value = "";
      }
    }
    commune.addEventListener("change", update);
    update();
  }

  // Province, then commune, then hamlet: each list is fetched when the one before changes
  // (and kept, so going back and forth asks once). The "Show..." buttons are for pages
  // without JavaScript, or when a list cannot be fetched.
  function wirePlaces(form) {
    var province = form.querySelector('select[name="province"][data-places]');
    var commune = form.querySelector('select[name="commune"][data-places]');
    var hamlet = form.querySelector('select[name="hamlet_id"]');
    if (!commune || !hamlet || !window.fetch) { return; }
    var steps = form.querySelectorAll("[data-nojs]");
    var cache = {};
    function showSteps(show) {
      steps.forEach(function (button) { button.hidden = !show; });
    }
    function load(url, done) {
      if (cache[url]) { done(cache[url]); return; }
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) { throw new Error(String(response.status)); }
          return response.json();
        })
        .then(function (data) { cache[url] = data; done(data); })
        .catch(function () { showSteps(true); });
    }
    function reset(select) {
      while (select.options.length > 1) { select.remove(1); }
      select.value = "";
    }
    function option(value, text) {
      var item = document.createElement("option");
      item.value = value;
      item.textContent = text;
      return item;
    }
    function hint(show) {
      var text = document.getElementById("commune-hint");
      if (text) { text.hidden = !show; }
    }
    showSteps(false);
    if (province) {
      province.addEventListener("change", function () {
        var code = province.value;
        reset(commune);
        reset(hamlet);
        hint(!code);
        if (!code) { return; }
        load(province.getAttribute("data-places") + "?province=" + encodeURIComponent(code), function (data) {
          if (province.value !== code) { return; }
          reset(commune);
          data.communes.forEach(function (c) {
            var item = option(c.code, c.name);
            if (c.lat !== null && c.lng !== null) { item.setAttribute("data-center", c.lat + "," + c.lng); }
            commune.appendChild(item);
          });
        });
      });
    }
    commune.addEventListener("change", function () {
      var code = commune.value;
      reset(hamlet);
      if (!code) { return; }
      load(commune.getAttribute("data-places") + "?commune=" + encodeURIComponent(code), function (data) {
        if (commune.value !== code) { return; }
        reset(hamlet);
        data.hamlets.forEach(function (h) { hamlet.appendChild(option(String(h.id), h.name)); });
      });
    });
  }

  function loadLeaflet(box, done) {
    if (window.L) { done(); return; }
    var css = document.createElement("link");
    css.rel = "stylesheet";
    css.href = box.getAttribute("data-leaflet-css");
    document.head.appendChild(css);
    var script = document.createElement("script");
    script.src = box.getAttribute("data-leaflet-js");
    script.onload = done;
    document.head.appendChild(script);
  }

  // An optional map pin: Leaflet is loaded only when the person asks for the map.
  function wirePin(form) {
    var box = form.querySelector("[data-pin]");
    if (!box) { return; }
    box.hidden = false;
    var lat = form.querySelector('input[name="lat"]');
    var lng = form.querySelector('input[name="lng"]');
    var status = box.querySelector(".pin-status");
    var clear = box.querySelector("[data-pin-clear]");
    var mapBox = box.querySelector(".pin-map");
    var commune = form.querySelector('select[name="commune"]');
    var map = null;
    var marker = null;

    function set(latlng) {
      lat.value = latlng.lat.toFixed(6);
      lng.value = latlng.lng.toFixed(6);
      status.textContent = box.getAttribute("data-label-placed");
      clear.hidden = false;
      if (map) {
        if (marker) { marker.setLatLng(latlng); } else {
          marker = window.L.marker(latlng, { draggable: true }).addTo(map);
          marker.on("dragend", function () { set(marker.getLatLng()); });
        }
      }
    }

    function center() {
      if (lat.value && lng.value) { return [parseFloat(lat.value), parseFloat(lng.value)]; }
      var option = commune && commune.options[commune.selectedIndex];
      var c = option && option.getAttribute("data-center");
      if (c) { return c.split(",").map(parseFloat); }
      return [16.4637, 107.5909];
    }

    function open(after) {
      loadLeaflet(box, function () {
        mapBox.hidden = false;
        if (!map) {
          map = window.L.map(mapBox).setView(center(), 16);
          window.L.tileLayer(box.getAttribute("data-tiles"), {
            maxZoom: 19, attribution: box.getAttribute("data-attribution")
          }).addTo(map);
          map.on("click", function (event) { set(event.latlng); });
          if (lat.value && lng.value) { set(window.L.latLng(center())); }
        }
        if (after) { after(); }
      });
    }

    box.querySelector("[data-pin-open]").addEventListener("click", function () { open(); });
    box.querySelector("[data-pin-locate]").addEventListener("click", function () {
      if (!navigator.geolocation) { return; }
      navigator.geolocation.getCurrentPosition(function (position) {
        var here = { lat: position.coords.latitude, lng: position.coords.longitude };
        set(here);
        open(function () { map.setView([here.lat, here.lng], 17); set(window.L.latLng(here.lat, here.lng)); });
      });
    });
    clear.addEventListener("click", function () {
      lat.value = ""; lng.value = ""; status.textContent = ""; clear.hidden = true;
      if (marker) { marker.remove(); marker = null; }
    });
  }

  document.querySelectorAll("form[data-enhance]").forEach(function (form) {
    wireShowWhen(form);
    wireMinor(form);
    wireHamlets(form);
    wirePlaces(form);
    wirePin(form);
  });
  var summary = document.getElementById("form-errors");
  if (summary) { summary.focus(); }
})();
