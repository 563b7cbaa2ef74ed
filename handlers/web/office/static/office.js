/* The overview (and a draft's thread) refreshes itself: its live part is fetched again every few
   seconds while the page is in view, and put in place only when it changed (a screen reader
   hears news, not the same part again). Without this script the page still works (reload). */
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live || !window.fetch) { return; }
  var url = live.getAttribute("data-live");
  var every = Math.max(5, parseInt(live.getAttribute("data-every"), 10) || 15) * 1000;
  var busy = false;
  var last = null;
  function refresh() {
    if (busy || document.hidden) { return; }
    busy = true;
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.text();
      })
      .then(function (html) {
        if (html !== last) { live.innerHTML = html; last = html; }
      })
      .catch(function () { /* signed out or offline: keep what is shown */ })
      .then(function () { busy = false; });
  }
  window.setInterval(refresh, every);
  document.addEventListener("visibilitychange", refresh);
}());
