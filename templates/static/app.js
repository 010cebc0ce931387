/* What every crm-connector page does inside a Bitrix24 frame. It works without the portal's
   BX24 script: when that script fails to load (or the page is opened outside a portal) the
   page is still complete; only the frame's height is then left to the portal. */
(function () {
  "use strict";
  function fit() {
    if (window.BX24 && typeof window.BX24.fitWindow === "function") {
      try { window.BX24.fitWindow(); } catch (e) { /* not inside a portal */ }
    }
  }
  window.ccFit = fit;
  window.ccBx24Ready = function () {
    if (!window.BX24) { return; }
    window.BX24.init(function () {
      fit();
      if (typeof window.ccOnBx24 === "function") { window.ccOnBx24(); }
    });
  };
  window.addEventListener("load", fit);
  if (window.ResizeObserver) { new ResizeObserver(fit).observe(document.documentElement); }

  /* A button with data-poll="<url>" re-reads that URL until its answer says done; the
     element named by data-target gets the answer's html. */
  function poll(url, target, button, tries) {
    fetch(url, {credentials: "omit", cache: "no-store"}).then(function (r) {
      return r.json();
    }).then(function (answer) {
      if (target && answer.html !== undefined) { target.innerHTML = answer.html; }
      if (answer.done || tries <= 0) {
        if (button) { button.disabled = false; }
        fit();
        return;
      }
      setTimeout(function () { poll(url, target, button, tries - 1); }, 1000);
    }).catch(function () {
      if (button) { button.disabled = false; }
    });
  }
  window.ccPoll = poll;

  /* A file input with data-max-bytes: a file over it is refused before it is sent (the
     server refuses it too, unread, but a browser may then only say the connection broke). */
  document.addEventListener("submit", function (ev) {
    var inputs = ev.target.querySelectorAll ? ev.target.querySelectorAll("input[type=file][data-max-bytes]") : [];
    for (var i = 0; i < inputs.length; i++) {
      var input = inputs[i], max = Number(input.getAttribute("data-max-bytes"));
      var file = input.files && input.files[0];
      if (file && max && file.size > max) {
        ev.preventDefault();
        input.setCustomValidity(input.getAttribute("data-too-big") || "");
        input.reportValidity();
        return;
      }
      input.setCustomValidity("");
    }
  }, true);
  document.addEventListener("change", function (ev) {
    if (ev.target.matches && ev.target.matches("input[type=file][data-max-bytes]")) {
      ev.target.setCustomValidity("");
    }
  });
})();
