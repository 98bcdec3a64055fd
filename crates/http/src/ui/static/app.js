// Foredeck web UI: the little that needs a script. Pages work without it.
"use strict";
document.addEventListener("submit", function (ev) {
  // forms that delete something ask first
  var form = ev.target;
  var question = form.getAttribute && form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    ev.preventDefault();
  }
});
document.addEventListener("keydown", function (ev) {
  // Escape closes the open project switcher
  if (ev.key !== "Escape") return;
  var open = document.querySelectorAll("details.switcher[open]");
  for (var i = 0; i < open.length; i++) {
    open[i].removeAttribute("open");
    var summary = open[i].querySelector("summary");
    if (summary) summary.focus();
  }
});
