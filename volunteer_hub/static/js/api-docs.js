// Start Swagger UI on /api/docs with the document the page names (no inline script: the
// page's Content-Security-Policy allows only this origin's files).
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  if (!root || typeof window.SwaggerUIBundle !== "function") {
    return;
  }
  root.textContent = root.dataset.loading || "";
  window.SwaggerUIBundle({
    url: root.dataset.spec,
    domNode: root,
    deepLinking: true,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    // The online validator badge would call validator.swagger.io: never leave this origin.
    validatorUrl: null,
    tryItOutEnabled: false,
  });
})();
