// The live board: the socket (htmx ws extension) brings re-rendered cards and
// promotion panels as out-of-band swaps. While it is down, the board says so and refreshes
// its cards and panels from the page itself every 15 s; the extension keeps reconnecting.
(() => {
  const live = document.querySelector("[data-live-board]");
  if (!live || !window.htmx) return;
  const REFRESH_MS = 15000;
  const SOCKET_GRACE_MS = 5000;
  const offline = live.querySelector("[data-board-offline]");
  let open = false;
  let timer = null;
  let connects = 0;

  // Reconnects ask for the whole board at once: changes may have been missed meanwhile.
  const createWebSocket = htmx.createWebSocket;
  htmx.createWebSocket = (url) => {
    const board = new URL(url, location.href);
    if (board.pathname.startsWith("/ws/pipelines/") && connects++ > 0) {
      board.searchParams.set("resync", "1");
    }
    return createWebSocket(board.toString());
  };

  async function refresh() {
    try {
      const response = await fetch(location.href, { headers: { Accept: "text/html" } });
      if (!response.ok) return;
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      page.querySelectorAll("#freeze-banner, article.card[id], .hop[id], section.promotion[id]").forEach((fresh) => {
        const current = document.getElementById(fresh.id);
        if (!current) return;
        const adopted = document.importNode(fresh, true);
        current.replaceWith(adopted);
        htmx.process(adopted);
      });
      watchExpiries();
    } catch (error) {
      // still offline: try again at the next tick
    }
  }
  function goOffline() {
    live.dataset.live = "offline";
    if (timer) return;
    offline.hidden = false;
    timer = setInterval(refresh, REFRESH_MS);
  }
  function goOnline() {
    open = true;
    live.dataset.live = "open"; // tests wait for this before changing what the board shows
    offline.hidden = true;
    clearInterval(timer);
    timer = null;
  }
  // A live update must not wipe a message just shown to this person ("Promotion started",
  // a refusal): carry it into the re-rendered card or panel; their next action replaces it.
  let fromSocket = false;
  document.addEventListener("slipway:stale", () => setTimeout(refresh, 0));
  live.addEventListener("htmx:wsBeforeMessage", () => (fromSocket = true));
  live.addEventListener("htmx:wsAfterMessage", () => (fromSocket = false));
  document.addEventListener("htmx:oobBeforeSwap", (event) => {
    const { target, fragment } = event.detail;
    const fresh = fragment.firstElementChild;
    if (!fromSocket || !fresh || fresh.id !== target.id) return;
    // This person's own request from here is under way: its answer re-renders this part a
    // moment later. Swapping now would detach the element htmx puts that answer into, and
    // the answer ("Promotion started", a refusal) would be lost.
    const inFlight = `.${htmx.config.requestClass}`;
    if (target.matches(inFlight) || target.querySelector(inFlight)) {
      event.detail.shouldSwap = false;
      return;
    }
    if (!event.detail.shouldSwap) return; // kept for an open dialog (static/js/slipway.js)
    target.querySelectorAll('[data-field="notice"], [data-field="error"]').forEach((message) => {
      const parent = message.parentElement;
      let into = fresh;
      if (parent !== target) {
        into = parent.id
          ? fresh.querySelector(`#${CSS.escape(parent.id)}`)
          : fresh.querySelector(`.${CSS.escape(parent.classList[0] || "")}`);
      }
      if (!into || into.querySelector(`[data-field="${message.dataset.field}"]`)) return;
      const position = Array.from(parent.children).indexOf(message);
      into.insertBefore(message.cloneNode(true), into.children[position] || null);
    });
  });

  // Keyboard users keep their place when a live update replaces the part they are in.
  let focusedId = null;
  document.addEventListener("htmx:oobBeforeSwap", (event) => {
    const active = document.activeElement;
    const inside = active && active.id && event.detail.target.contains(active);
    if (fromSocket && event.detail.shouldSwap && inside) focusedId = active.id;
  });
  document.addEventListener("htmx:oobAfterSwap", () => {
    const again = focusedId && document.getElementById(focusedId);
    focusedId = null;
    if (again && document.activeElement !== again) again.focus();
  });

  // A sign-off that expires changes the panel with no news from the server: refresh the
  // board then, so that the Promote button never looks ready when the server would refuse.
  // At least 2 s apart, in case this computer's clock runs ahead of the server's.
  let expiryTimer = null;
  function watchExpiries() {
    clearTimeout(expiryTimer);
    const times = Array.from(document.querySelectorAll("time[data-expires]"), (time) =>
      Date.parse(time.dateTime),
    ).filter((time) => !Number.isNaN(time));
    if (!times.length) return;
    const wait = Math.min(Math.max(Math.min(...times) - Date.now() + 1000, 2000), 2 ** 31 - 1);
    expiryTimer = setTimeout(refresh, wait);
  }
  document.addEventListener("htmx:afterSettle", watchExpiries);
  document.addEventListener("htmx:oobAfterSwap", watchExpiries);
  watchExpiries();

  live.addEventListener("htmx:wsOpen", goOnline);
  live.addEventListener("htmx:wsClose", (event) => {
    open = false;
    if (event.detail.event.code !== 4403) goOffline();
  });
  setTimeout(() => open || goOffline(), SOCKET_GRACE_MS);
})();
