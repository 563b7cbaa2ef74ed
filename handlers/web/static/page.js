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
/* A form past what the server takes is kept from leaving, and the page says why in the server's
   own words, written in the form by the server (data-too-large): a file over the limit before it
   travels (20 MB over a phone's 3G is minutes); a text past what the server reads in one go (a
   whole report pasted), which could not come back in its box, stays there. The server's rule,
   each apart: a file is refused over its own limit (data-max-file-bytes), whatever text came
   with it; the typed text over its room (data-max-text-bytes), a file's form leaving room for
   a note beside a file at its limit. A file just under the limit with a note is sent. */
(function () {
  "use strict";
  /* The largest file a form sends (the server takes one a form). */
  function fileBytes(form) {
    var largest = 0;
    Array.prototype.forEach.call(form.querySelectorAll("input[type=file]"), function (field) {
      if (!field.name || field.disabled) { return; }
      Array.prototype.forEach.call(field.files || [], function (file) {
        largest = Math.max(largest, file.size);
      });
    });
    return largest;
  }
  /* What a (multipart) form sends of what was chosen and typed: a text in UTF-8 with each line
     break as CR LF; the hidden fields are the server's own, small. */
  function textBytes(form) {
    var total = 0;
    Array.prototype.forEach.call(form.elements, function (field) {
      var kind = field.type;
      if (!field.name || field.disabled || kind === "hidden" || kind === "file") { return; }
      if ((kind === "radio" || kind === "checkbox") && !field.checked) { return; }
      if (typeof field.value === "string") {
        var text = field.value.replace(/\r?\n/g, "\r\n");
        try {
          total += encodeURIComponent(text).replace(/%[0-9A-F]{2}/g, "x").length;
        } catch (broken) {  /* a lone surrogate: at most three bytes a character */
          total += 3 * text.length;
        }
      }
    });
    return total;
  }
  var forms = document.querySelectorAll("form[data-max-file-bytes], form[data-max-text-bytes]");
  Array.prototype.forEach.call(forms, function (form) {
    var maxFile = parseInt(form.getAttribute("data-max-file-bytes") || "0", 10);
    var maxText = parseInt(form.getAttribute("data-max-text-bytes") || "0", 10);
    var said = form.querySelector("[data-too-large]");
    if (!(maxFile || maxText) || !said) { return; }
    function tooLarge() {
      return (maxFile > 0 && fileBytes(form) > maxFile) || (maxText > 0 && textBytes(form) > maxText);
    }
    var input = form.querySelector("input[type=file]");
    if (input) {
      input.addEventListener("change", function () { said.hidden = !tooLarge(); });
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
