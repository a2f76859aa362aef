// The setup page's only script: copy buttons and the "am I protected?"
// check. Served by the gateway itself, so a Content-Security-Policy of
// script-src 'self' allows it; without it the page still works (the
// buttons stay hidden and the check has a result link).
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("button.copy").forEach(function (b) {
    if (!navigator.clipboard) return;
    b.hidden = false;
    b.addEventListener("click", function () {
      navigator.clipboard.writeText(b.dataset.copy).then(function () {
        b.textContent = b.dataset.copied;
      });
    });
  });
  var probe = document.getElementById("check-probe");
  var out = document.getElementById("check-result");
  if (!probe || !out) return;
  out.textContent = out.dataset.running;
  var asked = false;
  function ask() {
    if (asked) return;
    asked = true;
    fetch(probe.dataset.result, { cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(function (res) {
        out.textContent = res.message;
        out.className = res.using ? "using" : "not-using";
        out.dataset.using = res.using ? "yes" : "no";
        if (res.profile) out.dataset.checkProfile = res.profile;
      });
  }
  // The name is resolved before the image fails or loads; a time limit
  // covers a network that never answers.
  probe.addEventListener("error", ask);
  probe.addEventListener("load", ask);
  if (probe.complete) ask();
  setTimeout(ask, 5000);
});
