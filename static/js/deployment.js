// The deployment page's live log. htmx's ws extension appends the socket's frames
// (<div hx-swap-oob="beforeend:#log"><div data-seq="42">…</div></div>); this file
//  - reconnects with the last rendered seq in the URL (the extension has no resume cursor),
//  - drops any line already shown (seq <= last), whichever way it came,
//  - polls the log endpoint by seq while no socket gets through (a proxy without upgrade),
//  - follows / pauses auto-scroll, jumps to the first error, loads earlier lines,
//  - folds the log into one collapsible section per step (its status and duration on it,
//    the failed or running step open),
//  - ticks the elapsed time.
(() => {
  const page = document.querySelector("[data-deployment]");
  const log = document.getElementById("log");
  if (!page || !log || !window.htmx) return;

  const POLL_MS = 2000;
  const SOCKET_GRACE_MS = 5000; // a proxy may hang the upgrade rather than refuse it
  const NO_RECONNECT = [1000, 4403, 4404]; // finished, forbidden, not found
  const seqOf = (element) => Number(element.dataset.seq);
  let last = log.lastElementChild ? seqOf(log.lastElementChild) : 0;
  let following = true;
  let socketOpen = false;
  let pollTimer = null;

  // --- resume cursor and dedupe ------------------------------------------------------------
  const createWebSocket = htmx.createWebSocket;
  htmx.createWebSocket = (url) => {
    const resumed = new URL(url, location.href);
    if (resumed.pathname.startsWith("/ws/deployments/")) resumed.searchParams.set("after", last);
    return createWebSocket(resumed.toString());
  };

  // Keep only lines after `last`, in order; returns the frame without the others.
  function freshOnly(html) {
    const template = document.createElement("template");
    template.innerHTML = html;
    template.content.querySelectorAll("[data-seq]").forEach((line) => {
      if (seqOf(line) <= last) line.remove();
      else last = seqOf(line);
    });
    return template;
  }

  htmx.defineExtension("slipway-log", {
    transformResponse: (text) => {
      const template = freshOnly(text);
      const wrapper = document.createElement("div");
      wrapper.appendChild(template.content);
      return wrapper.innerHTML;
    },
  });

  // --- follow / pause ----------------------------------------------------------------------
  const followButton = page.querySelector("[data-action=follow]");
  let scrolling = false;
  function setFollowing(on) {
    following = on;
    followButton.setAttribute("aria-pressed", String(on));
    followButton.textContent = on ? "Pause auto-scroll" : "Follow the log";
    if (on) scrollToEnd();
  }
  function scrollToEnd() {
    scrolling = true;
    log.scrollTop = log.scrollHeight;
    requestAnimationFrame(() => (scrolling = false));
  }
  followButton.addEventListener("click", () => setFollowing(!following));
  log.addEventListener("scroll", () => {
    if (scrolling) return;
    const atEnd = log.scrollHeight - log.scrollTop - log.clientHeight < 24;
    if (atEnd !== following) setFollowing(atEnd);
  });
  function linesArrived() {
    const empty = page.querySelector("[data-empty-log]");
    if (empty && log.firstElementChild) empty.remove();
    foldSteps();
    if (following) scrollToEnd();
  }
  page.addEventListener("htmx:wsAfterMessage", linesArrived);
  scrollToEnd();

  // --- fallback: polling while the socket is down ----------------------------------------
  const note = page.querySelector("[data-live-note]");
  const finished = () => document.querySelector("#deployment-status[data-final]") !== null;
  function showNote(text) {
    note.hidden = !text;
    note.textContent = text || "";
  }
  async function poll() {
    try {
      const response = await fetch(`${page.dataset.logUrl}?after=${last}`, {
        headers: { Accept: "text/html" },
      });
      if (response.ok) applyFrame(await response.text());
    } catch (error) {
      showNote("Offline: retrying…");
    }
    if (finished() || socketOpen) stopPolling();
  }
  function applyFrame(html) {
    const template = freshOnly(html);
    for (const part of Array.from(template.content.children)) {
      const swap = part.getAttribute("hx-swap-oob") || "";
      if (swap.startsWith("beforeend:")) {
        log.append(...part.childNodes);
      } else if (part.id && document.getElementById(part.id)) {
        const current = document.getElementById(part.id);
        if (current.querySelector("dialog[open]")) continue; // slipway.js: brought back later
        current.replaceWith(part);
        htmx.process(part);
        showSteps();
      }
    }
    linesArrived();
  }
  function startPolling() {
    if (pollTimer || finished()) return;
    showNote(`No live connection: polling for new lines every ${POLL_MS / 1000} s`);
    poll();
    pollTimer = setInterval(poll, POLL_MS);
  }
  function stopPolling() {
    clearInterval(pollTimer);
    pollTimer = null;
    if (socketOpen || finished()) showNote("");
  }
  page.addEventListener("htmx:wsOpen", () => {
    socketOpen = true;
    stopPolling();
  });
  page.addEventListener("htmx:wsClose", (event) => {
    socketOpen = false;
    const code = event.detail.event.code;
    if (code === 4403) showNote("You may not watch this deployment.");
    else if (!NO_RECONNECT.includes(code)) startPolling();
  });
  setTimeout(() => socketOpen || startPolling(), SOCKET_GRACE_MS);
  document.addEventListener("slipway:stale", poll); // a dialog kept an old status: ask again

  // --- earlier lines and the first error ---------------------------------------------------
  const earlierButton = page.querySelector("[data-action=load-earlier]");
  async function loadEarlier() {
    const firstLine = () => log.querySelector("[data-seq]");
    const first = firstLine() ? seqOf(firstLine()) : last + 1;
    if (first <= 1) return false;
    const response = await fetch(`${page.dataset.logUrl}?before=${first}`);
    if (!response.ok) return false;
    const height = log.scrollHeight;
    log.insertAdjacentHTML("afterbegin", await response.text());
    log.scrollTop += log.scrollHeight - height; // keep what the reader looks at in place
    const now = firstLine() ? seqOf(firstLine()) : 1;
    if (earlierButton) {
      earlierButton.hidden = now <= 1;
      earlierButton.textContent = `Load earlier lines (${now - 1} more)`;
    }
    return now < first;
  }
  if (earlierButton) earlierButton.addEventListener("click", loadEarlier);

  // The toolbar's button, and the link of the quote under a failure (the status partial,
  // replaced live: listen on the page). The partial knows the first error's seq as it is written.
  page.addEventListener("click", async (event) => {
    if (!event.target.matches("[data-action=first-error]")) return;
    event.preventDefault();
    const status = document.getElementById("deployment-status");
    const known = Number((status && status.dataset.firstError) || 0);
    let line = known
      ? log.querySelector(`[data-seq="${known}"]`)
      : log.querySelector("[data-error]");
    while (known && !line && (await loadEarlier())) {
      line = log.querySelector(`[data-seq="${known}"]`);
    }
    if (!line) {
      event.target.textContent = "No errors so far";
      return;
    }
    setFollowing(false);
    const step = line.closest("details");
    if (step) step.open = true;
    log.querySelectorAll(".highlight").forEach((other) => other.classList.remove("highlight"));
    line.classList.add("highlight");
    line.scrollIntoView({ block: "center" });
  });

  // --- the log by steps -------------------------------------------------------------------
  // Lines arrive flat (dashboard/log_html.py marks "▶ step" and its "✔"/"✖" line); the
  // lines of a step move into a <details> whose summary the status header keeps up to date.
  function section(name) {
    const details = document.createElement("details");
    details.className = "log-step";
    details.dataset.logStep = name;
    details.open = true;
    const summary = document.createElement("summary");
    const state = document.createElement("span");
    state.className = "step-state";
    const label = document.createElement("strong");
    label.textContent = name;
    const took = document.createElement("span");
    took.className = "step-took";
    summary.append(state, " ", label, " ", took);
    summary.addEventListener("click", () => (details.dataset.touched = "")); // theirs now
    details.append(summary);
    return details;
  }
  function foldSteps() {
    const fresh = [];
    for (let el = log.lastElementChild; el && el.matches(".line:not([data-folded])"); el = el.previousElementSibling) {
      fresh.unshift(el);
    }
    const before = fresh.length ? fresh[0].previousElementSibling : null;
    let current = before && before.matches("details:not([data-ended])") ? before : null;
    for (const line of fresh) {
      line.dataset.folded = "";
      if (line.dataset.stepStart !== undefined) {
        current = section(line.dataset.stepStart);
        line.before(current);
      }
      if (!current) continue;
      current.append(line);
      if (line.dataset.stepEnd !== undefined) {
        current.dataset.ended = "";
        current = null;
      }
    }
    showSteps();
  }
  function showSteps() {
    document.querySelectorAll("#deployment-status [data-step]").forEach((step) => {
      const details = log.querySelector(`details[data-log-step="${CSS.escape(step.dataset.step)}"]`);
      if (!details) return;
      const status = step.dataset.stepStatus;
      const word = step.querySelector(".status");
      details.querySelector(".step-state").textContent = word ? word.textContent.trim() : status;
      details.querySelector(".step-state").className = `step-state status status-${status}`;
      details.querySelector(".step-took").textContent = step.dataset.took || "";
      details.dataset.status = status;
      if (details.dataset.touched === undefined) details.open = status !== "succeeded";
    });
  }
  document.addEventListener("htmx:oobAfterSwap", (event) => {
    if (event.detail.target.id === "deployment-status") showSteps();
  });
  foldSteps();

  // --- elapsed time ------------------------------------------------------------------------
  setInterval(() => {
    const elapsed = document.querySelector("#deployment-status [data-started]");
    if (!elapsed) return;
    const seconds = (Date.now() - Date.parse(elapsed.dataset.started)) / 1000;
    elapsed.textContent = window.describeDuration(seconds);
  }, 1000);
})();
