// The live tail's poller: every few seconds, ask for the rows stored after the newest one shown and put them on top.
// Pausing stops the polling; resuming catches up from where it stopped.
(function () {
  "use strict";
  var box = document.getElementById("tail");
  var button = document.getElementById("tail-toggle");
  var status = document.getElementById("tail-status");
  if (!box || !button || !status) { return; }
  var body = box.querySelector("tbody");
  var last = box.getAttribute("data-last") || "0";
  var interval = parseInt(box.getAttribute("data-interval"), 10) || 2000;
  var keep = 200;
  var paused = false;
  var timer = null;

  function schedule() {
    if (!paused) { timer = setTimeout(poll, interval); }
  }

  function poll() {
    fetch("tail/rows?after=" + encodeURIComponent(last), { headers: { "Accept": "text/html" }, credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (response.status === 401 || response.status === 403) {
          // The key was removed or the cookie is gone: sign in again, then come back here.
          window.location.href = "login?returnUrl=" + encodeURIComponent("/tail");
          throw new Error("signed out");
        }
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        var next = response.headers.get("X-Tail-Last");
        return response.text().then(function (html) { return { html: html, next: next }; });
      })
      .then(function (result) {
        if (result.html.trim().length > 0) {
          body.insertAdjacentHTML("afterbegin", result.html);
          while (body.rows.length > keep) { body.deleteRow(body.rows.length - 1); }
          var empty = document.querySelector("#tail ~ .empty, #tail .empty");
          if (empty) { empty.remove(); }
        }
        if (result.next) { last = result.next; }
        status.textContent = "Live: updated " + new Date().toLocaleTimeString() + ".";
      })
      .catch(function (error) {
        status.textContent = "Could not update (" + error.message + "); retrying.";
      })
      .then(schedule);
  }

  button.addEventListener("click", function () {
    paused = !paused;
    button.textContent = paused ? "Resume" : "Pause";
    button.setAttribute("aria-pressed", paused ? "true" : "false");
    if (paused) {
      clearTimeout(timer);
      status.textContent = "Paused.";
    } else {
      status.textContent = "Live: resuming.";
      poll();
    }
  });

  schedule();
})();
