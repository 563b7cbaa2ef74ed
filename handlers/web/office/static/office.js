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
/* The reception desk on a hall's Wi-Fi: before a desk form leaves, the server is asked (its own
   script, no-store: no database, no session); when it cannot be reached the form is not sent
   and the page says so — the tap NOT recorded, what to do meanwhile — instead of the browser's
   error page, where «Back» shows the same error and the volunteer cannot tell whether the tap
   went. Without this script the forms are sent as they are (the page's «Khi mất mạng» says
   what to do). A form sent again is harmless: it carries its own key, recorded once.
   A tap that found no network is remembered (this tab's sessionStorage, by the form's own
   key, never a person's link; a page loaded again has new keys, and forgets), with what was
   typed in the form: sent again later as it was, the form carries «late», the seconds since
   that first tap, so the person is recorded as arrived then, not when the network came back.
   Typed anew (the guest form's boxes hold the next guest), it is another person: no «late».
   A span, not a time: the phone's clock may be wrong, its differences are not. The server
   bounds it (2 hours). */
(function () {
  "use strict";
  var said = document.getElementById("desk-offline");
  if (!said || !window.fetch) { return; }
  var probe = said.getAttribute("data-probe");
  var WAIT = 6000;  // ms: longer, and the volunteer would tap again anyway
  var KEPT = 2 * 3600 * 1000;  // ms a first tap is remembered: the server takes no older
  var busy = false;
  function tapKey(form) {
    var key = form.elements.namedItem("rk");
    return key && key.value ? "hoinghi-tap:" + key.value : null;
  }
  function stored() {
    try { return window.sessionStorage || null; } catch (e) { return null; }
  }
  function typed(form) {  // what the form sends of what was typed and chosen: whom it records
    var parts = [];
    Array.prototype.forEach.call(form.elements, function (field) {
      var kind = field.type;
      if (!field.name || field.disabled || kind === "hidden" || kind === "submit" ||
          kind === "button" || kind === "file") { return; }
      if ((kind === "radio" || kind === "checkbox") && !field.checked) { return; }
      parts.push(field.name + "=" + field.value);
    });
    return parts.join("\n");
  }
  function firstTap(store, key) {  // {at: ms, typed: text} as remember() kept it, or null
    try {
      var kept = JSON.parse(store.getItem(key) || "null");
      return kept && typeof kept.at === "number" && typeof kept.typed === "string" ? kept : null;
    } catch (e) { return null; }
  }
  (function forgetOld() {
    var store = stored();
    if (!store) { return; }
    for (var i = store.length - 1; i >= 0; i -= 1) {
      var name = store.key(i);
      if (!name || name.indexOf("hoinghi-tap:") !== 0) { continue; }
      var kept = firstTap(store, name);
      if (!kept || Date.now() - kept.at > KEPT) { store.removeItem(name); }
    }
  }());
  function remember(form) {  // the first tap that found no network: its time, and for whom
    var store = stored(), key = tapKey(form);
    if (!store || !key) { return; }
    var kept = firstTap(store, key), now = typed(form);
    // Tapped again offline as it was: still the first tap's time; typed anew: this one's.
    if (kept && kept.typed === now) { return; }
    store.setItem(key, JSON.stringify({ at: Date.now(), typed: now }));
  }
  function markLate(form) {  // sent at last: how long ago that first tap was
    var store = stored(), key = tapKey(form);
    var kept = store && key ? firstTap(store, key) : null;
    // Taken once: a later tap of the same form (undone, then tapped again) is its own time.
    if (store && key) { store.removeItem(key); }
    var old = form.querySelector('input[name="late"]');
    if (old) { old.parentNode.removeChild(old); }
    // Its boxes typed anew since (the next guest): another person, who arrives now.
    if (!kept || kept.typed !== typed(form)) { return; }
    var field = document.createElement("input");
    field.type = "hidden";
    field.name = "late";
    field.value = String(Math.max(0, Math.round((Date.now() - kept.at) / 1000)));
    form.appendChild(field);
  }
  function tell(text) {
    said.textContent = text;
    said.hidden = false;
    if (said.scrollIntoView) { said.scrollIntoView({ block: "center" }); }
  }
  function reachable() {
    var controller = window.AbortController ? new AbortController() : null;
    var timer = controller ? window.setTimeout(function () { controller.abort(); }, WAIT) : 0;
    var asked = { method: "HEAD", cache: "no-store", credentials: "same-origin" };
    if (controller) { asked.signal = controller.signal; }
    // Any answer at all (even an error status) means the server is there.
    return fetch(probe, asked)
      .then(function () { return true; }, function () { return false; })
      .then(function (found) { window.clearTimeout(timer); return found; });
  }
  function send(form, submitter) {
    form.setAttribute("data-checked", "1");
    if (form.requestSubmit) {
      form.requestSubmit(submitter || undefined);
      // Its submit event has run by now; a send the browser stopped (a required box emptied
      // meanwhile) must not leave the mark, or the next tap would go out unchecked.
      form.removeAttribute("data-checked");
      return;
    }
    if (submitter && submitter.name) {  // form.submit() leaves the pressed button out
      var field = document.createElement("input");
      field.type = "hidden";
      field.name = submitter.name;
      field.value = submitter.value;
      form.appendChild(field);
    }
    form.submit();
  }
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) { return; }
    if (form.getAttribute("data-checked") === "1") {  // asked already: let it go
      form.removeAttribute("data-checked");
      return;
    }
    event.preventDefault();
    if (busy) { return; }
    busy = true;
    var submitter = event.submitter || null;
    var searching = (form.getAttribute("method") || "get").toLowerCase() === "get";
    reachable().then(function (found) {
      busy = false;
      if (found) {
        said.hidden = true;
        if (!searching) { markLate(form); }
        send(form, submitter);
      } else {
        if (!searching) { remember(form); }
        tell(said.getAttribute(searching ? "data-search" : "data-tap"));
      }
    });
  }, true);
  window.addEventListener("online", function () {
    if (!said.hidden) { tell(said.textContent.split("\n")[0] + "\n" + said.getAttribute("data-back")); }
  });
}());
