/* The personal page's only script; without it every form still works (the server checks all).
   Back after changing an answer: Chromium shows the page from its back/forward cache — the
   answer as it was before — despite "no-store"; a page restored so is fetched again, so what
   it says is what the office holds. */
(function () {
  "use strict";
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) { window.location.reload(); }
  });
}());
/* A file over the limit is refused before it travels (20 MB over a phone's 3G is minutes), in
   the server's own words, written in the form by the server and shown here. */
(function () {
  "use strict";
  var forms = document.querySelectorAll("form[data-max-bytes]");
  Array.prototype.forEach.call(forms, function (form) {
    var limit = parseInt(form.getAttribute("data-max-bytes"), 10);
    var input = form.querySelector("input[type=file]");
    var said = form.querySelector("[data-too-large]");
    if (!limit || !input || !said) { return; }
    function tooLarge() {
      var file = input.files && input.files[0];
      return Boolean(file && file.size > limit);
    }
    input.addEventListener("change", function () { said.hidden = !tooLarge(); });
    form.addEventListener("submit", function (event) {
      if (tooLarge()) {
        event.preventDefault();
        said.hidden = false;
        said.focus();
      }
    });
  });
}());
/* A typed speech past what the server reads in one go (a whole report pasted) could not come
   back in its box: it is kept from leaving, so it stays there, and the page says why. Counted
   as the form sends it: UTF-8, each line break as CR LF. */
(function () {
  "use strict";
  var forms = document.querySelectorAll("form[data-max-text-bytes]");
  Array.prototype.forEach.call(forms, function (form) {
    var limit = parseInt(form.getAttribute("data-max-text-bytes"), 10);
    var box = form.querySelector("textarea");
    var said = form.querySelector("[data-text-too-large]");
    if (!limit || !box || !said || typeof Blob === "undefined") { return; }
    function tooLarge() {
      var breaks = box.value.match(/\n/g);
      return new Blob([box.value]).size + (breaks ? breaks.length : 0) > limit;
    }
    form.addEventListener("submit", function (event) {
      if (tooLarge()) {
        event.preventDefault();
        said.hidden = false;
        said.focus();
      } else {
        said.hidden = true;
      }
    });
  });
}());
