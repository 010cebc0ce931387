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
})();
