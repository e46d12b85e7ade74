// On every page: in-page dialogs for the big actions, and times that show their absolute
// value when tapped. No confirm() or prompt(): a person types into the page itself.
(() => {
  // A button with data-opens="ID" opens <dialog id="ID"> as a modal (focus moves into it,
  // Escape closes it, the rest of the page is inert); data-closes closes the dialog it is in.
  // Its data-put-NAME="value" goes into the dialog's [data-put="NAME"] (an input's value,
  // another element's text): one dialog serves every row of a table.
  document.addEventListener("click", (event) => {
    const opener = event.target.closest("[data-opens]");
    if (opener) {
      const dialog = document.getElementById(opener.dataset.opens);
      if (dialog && !dialog.open) {
        dialog.querySelector("form")?.reset();
        for (const [key, value] of Object.entries(opener.dataset)) {
          if (!key.startsWith("put")) continue;
          const name = key.slice(3).toLowerCase(); // data-put-label is dataset.putLabel
          for (const target of dialog.querySelectorAll(`[data-put="${name}"]`)) {
            if (target.tagName === "INPUT") target.value = value;
            else target.textContent = value;
          }
        }
        dialog.showModal();
      }
      return;
    }
    if (event.target.closest("[data-closes]")) {
      event.target.closest("dialog")?.close();
      return;
    }
    // Tapping a time says it in full (the title says it on hover).
    const time = event.target.closest("time[data-absolute]");
    if (time) {
      const showing = time.dataset.showing === "absolute";
      time.dataset.relative ||= time.textContent;
      time.textContent = showing ? time.dataset.relative : time.dataset.absolute;
      time.dataset.showing = showing ? "relative" : "absolute";
    }
  });
  // The dialog's form was sent: close it (the answer re-renders the part it belongs to, or
  // redirects). A refusal is shown by that part, where the person is looking.
  document.addEventListener("htmx:afterRequest", (event) => {
    const dialog = event.detail.elt.closest && event.detail.elt.closest("dialog[open]");
    if (dialog) dialog.close();
  });

  // A live update must not close a dialog someone is using (a reason half typed, a
  // promotion being read): the part that holds it keeps its old self, and once the dialog
  // closes the page brings it up to date ("slipway:stale", board.js and deployment.js).
  // Promote sends the digest it showed, so the server refuses it if the candidate changed.
  let stale = false;
  document.addEventListener("htmx:oobBeforeSwap", (event) => {
    if (event.detail.target.querySelector("dialog[open]")) {
      event.detail.shouldSwap = false;
      stale = true;
    }
  });
  document.addEventListener(
    "close",
    (event) => {
      if (event.target.tagName !== "DIALOG" || !stale) return;
      stale = false;
      document.dispatchEvent(new CustomEvent("slipway:stale"));
    },
    true,
  );

  // "0.4 s", "2 min 13 s", "1 h 30 min": as pipelines/durations.py describe_duration says it.
  window.describeDuration = (seconds) => {
    seconds = Math.max(seconds, 0);
    if (seconds < 0.1) return "< 0.1 s";
    if (seconds < 10) return `${seconds.toFixed(1)} s`;
    const units = [["d", 86400], ["h", 3600], ["min", 60], ["s", 1]];
    const parts = [];
    let rest = Math.floor(seconds);
    for (const [word, size] of units) {
      if (rest >= size) {
        parts.push(`${Math.floor(rest / size)} ${word}`);
        rest %= size;
      }
    }
    return parts.slice(0, 2).join(" ");
  };
})();
