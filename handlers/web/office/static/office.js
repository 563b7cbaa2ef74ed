/* The overview refreshes itself: its live part is fetched again every few seconds while the
   page is in view. Without this script the page still works (reload to see new figures). */
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live || !window.fetch) { return; }
  var url = live.getAttribute("data-live");
  var every = Math.max(5, parseInt(live.getAttribute("data-every"), 10) || 15) * 1000;
  var busy = false;
  function refresh() {
    if (busy || document.hidden) { return; }
    busy = true;
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.text();
      })
      .then(function (html) { live.innerHTML = html; })
      .catch(function () { /* signed out or offline: keep what is shown */ })
      .then(function () { busy = false; });
  }
  window.setInterval(refresh, every);
  document.addEventListener("visibilitychange", refresh);
}());
