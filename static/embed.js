/* commentsvc widget: placeholder until the widget lands (issue 5). */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || script.hasAttribute("data-count-only")) return;
  var target = document.getElementById("comments") || script.parentNode;
  var root = document.createElement("div");
  root.className = "csvc-thread";
  root.textContent = "Comments will appear here.";
  target.appendChild(root);
})();
