// Relative URLs: the page works the same behind a proxy that adds a path prefix.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "../openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
  });
});
