/* A link from an account mail carries its one-time token in the fragment (#token=…), which a
   browser never sends to a server. This copies it into the form's "token" field and takes it out
   of the address bar (and so out of the history); the button still has to be pressed: opening
   the link changes nothing. Without JavaScript the link can be pasted into the field. */
(function () {
  "use strict";
  var match = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
  var field = document.getElementById("token");
  if (!match || !field) { return; }
  field.value = decodeURIComponent(match[1]);
  window.history.replaceState(null, "", window.location.pathname + window.location.search);
}());
