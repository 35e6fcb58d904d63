/* commentsvc admin: select all, and keyboard shortcuts for the moderation lists. */
(() => {
  "use strict";
  const rows = () => Array.from(document.querySelectorAll(".row[data-id]"));
  let current = -1;
  // A row offers only the actions that change its status: a key without a button does nothing.
  const ACTIONS = { a: "approve", h: "hold", s: "spam", d: "delete" };

  function focusRow(index) {
    const all = rows();
    if (!all.length) return;
    current = Math.max(0, Math.min(all.length - 1, index));
    all[current].focus();
  }

  document.addEventListener("change", (event) => {
    if (!event.target.matches("[data-select-all]")) return;
    for (const box of document.querySelectorAll('.row input[name="ids"]')) box.checked = event.target.checked;
  });

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.matches("input, textarea, select")) return;
    const all = rows();
    if (!all.length) return;
    const row = all[current] || null;
    if (event.key === "j") focusRow(current + 1);
    else if (event.key === "k") focusRow(current - 1);
    else if (event.key === "x" && row) {
      const box = row.querySelector('input[name="ids"]');
      box.checked = !box.checked;
    } else if (Object.hasOwn(ACTIONS, event.key)) {
      const selected = document.querySelectorAll('.row input[name="ids"]:checked');
      const action = ACTIONS[event.key];
      const button = selected.length
        ? document.querySelector(`.bulk button[value="${action}"]`)
        : row?.querySelector(`button[data-key="${event.key}"]`);
      if (button) button.click();
    } else return;
    event.preventDefault();
  });
})();
