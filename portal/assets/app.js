// Small progressive enhancements; every page works without them.
// Previews of chosen photos before a form is sent (<input type=file data-preview=ID>).
document.addEventListener("change", function (event) {
  var input = event.target;
  if (!(input instanceof HTMLInputElement) || !input.dataset.preview) return;
  var box = document.getElementById(input.dataset.preview);
  if (!box) return;
  box.replaceChildren();
  Array.from(input.files || []).forEach(function (file) {
    var figure = document.createElement("figure");
    if (file.type === "image/jpeg" || file.type === "image/png") {
      var img = document.createElement("img");
      img.src = URL.createObjectURL(file);
      img.alt = file.name;
      img.width = 120;
      figure.appendChild(img);
    }
    var caption = document.createElement("figcaption");
    caption.textContent = file.name;
    figure.appendChild(caption);
    box.appendChild(figure);
  });
});

// A page being left closes its live notification stream at once. Browsers open at most six
// connections to one server; streams of pages kept for the back button would hold them, and
// the next click would wait for one to free (it did, for a minute, in the browser tests).
window.addEventListener("pagehide", function () {
  document.querySelectorAll("[sse-connect]").forEach(function (el) {
    var data = el["htmx-internal-data"];
    if (data && data.sseEventSource) data.sseEventSource.close();
  });
});
// Back to a page kept in memory: its stream was closed above, so show it afresh.
window.addEventListener("pageshow", function (event) {
  if (event.persisted) window.location.reload();
});
