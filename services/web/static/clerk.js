/* The clerk's worklist refreshes itself without a full reload (progressive enhancement: without
   JavaScript the "Aktualisieren" link reloads the page). Every data-seconds it fetches the same
   list as a fragment and swaps it in, unless focus is inside the list (not to move the clerk's
   place) or the tab is hidden. */
(function () {
  "use strict";
  var link = document.getElementById("vr-refresh");
  var list = document.getElementById("vr-worklist");
  var note = document.getElementById("vr-refreshed");
  if (!link || !list || !window.fetch) { return; }
  var seconds = Math.max(parseInt(link.getAttribute("data-seconds"), 10) || 30, 5);
  var busy = false;

  function refresh(announce) {
    if (busy) { return; }
    busy = true;
    fetch(link.getAttribute("data-fragment"), { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (!response.ok || response.redirected) { throw new Error(String(response.status)); }
        return response.text();
      })
      .then(function (html) {
        list.innerHTML = html;
        list.setAttribute("data-refreshed", String(Date.now()));
        if (announce && note) {
          var now = new Date();
          var time = ("0" + now.getHours()).slice(-2) + ":" + ("0" + now.getMinutes()).slice(-2);
          note.textContent = note.getAttribute("data-text").replace("%(time)s", time);
        }
      })
      .catch(function () { /* the link still reloads the page */ })
      .then(function () { busy = false; });
  }

  link.addEventListener("click", function (event) {
    event.preventDefault();
    refresh(true);
  });
  window.setInterval(function () {
    if (document.hidden || list.contains(document.activeElement)) { return; }
    refresh(false);
  }, seconds * 1000);
}());
