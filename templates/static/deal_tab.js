/* The deal tab: follow the job a button started (app.js ccPoll) and keep the frame fitted.
   Without JavaScript the buttons still post and the "Refresh" link shows the result. */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-poll]").forEach(function (note) {
      window.ccPoll(note.getAttribute("data-poll"), document.getElementById("tab-body"), null, 120);
    });
    document.querySelectorAll(".actions form").forEach(function (form) {
      form.addEventListener("submit", function (ev) {
        var button = ev.submitter;  /* disabled after the post has taken its value */
        if (button) { setTimeout(function () { button.disabled = true; }, 0); }
      });
    });
  });
})();
