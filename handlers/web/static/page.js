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
