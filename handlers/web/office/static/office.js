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
/* «Sao chép» beside a sign-in link shown once: the field is read-only and can be selected and
   copied without this script; with it, one tap copies. */
(function () {
  "use strict";
  var buttons = document.querySelectorAll("button[data-copy]");
  Array.prototype.forEach.call(buttons, function (button) {
    var field = document.getElementById(button.getAttribute("data-copy"));
    if (!field) { return; }
    function done() { button.textContent = button.getAttribute("data-done"); }
    function fallback() {
      field.focus();
      field.select();
      try { if (document.execCommand("copy")) { done(); } } catch (ignored) { /* select only */ }
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(done, fallback);
      } else {
        fallback();
      }
    });
  });
}());
/* «Chọn tất cả trên trang này» on the list «Đại biểu»: without this script the box, sent
   with the form, marks everyone on the page; with it, it ticks and unticks each row's box,
   and unticking a row unticks it (the form then names the rows still ticked). */
(function () {
  "use strict";
  var all = document.getElementById("bulk-all");
  if (!all) { return; }
  var boxes = document.querySelectorAll("#form-bulk-sent input[type=checkbox][name=code]");
  all.addEventListener("change", function () {
    Array.prototype.forEach.call(boxes, function (box) { box.checked = all.checked; });
  });
  Array.prototype.forEach.call(boxes, function (box) {
    box.addEventListener("change", function () {
      all.checked = Array.prototype.every.call(boxes, function (each) { return each.checked; });
    });
  });
}());
/* A way to choose before «Đánh dấu đã gửi»: the browser stops the form while none is chosen
   (the rows ticked stay ticked); with this script its note is the page's own sentence, not the
   browser's generic one. Without the browser's check the server says the same sentence. */
(function () {
  "use strict";
  var sets = document.querySelectorAll("fieldset[data-required]");
  Array.prototype.forEach.call(sets, function (set) {
    var said = set.getAttribute("data-required");
    var radios = set.querySelectorAll("input[type=radio][required]");
    Array.prototype.forEach.call(radios, function (radio) {
      radio.addEventListener("invalid", function () { radio.setCustomValidity(said); });
      radio.addEventListener("change", function () {
        Array.prototype.forEach.call(radios, function (each) { each.setCustomValidity(""); });
      });
    });
  });
}());
