// The live board (issue 5): the socket (htmx ws extension) brings re-rendered cards and
// promotion panels as out-of-band swaps. While it is down, the board says so and refreshes
// its cards and panels from the page itself every 15 s; the extension keeps reconnecting.
(() => {
  const live = document.querySelector("[data-live-board]");
  if (!live) return;
  const REFRESH_MS = 15000;
  const SOCKET_GRACE_MS = 5000;
  const offline = live.querySelector("[data-board-offline]");
  let open = false;
  let timer = null;

  async function refresh() {
    try {
      const response = await fetch(location.href, { headers: { Accept: "text/html" } });
      if (!response.ok) return;
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      page.querySelectorAll("article.card[id], section.promotion[id]").forEach((fresh) => {
        const current = document.getElementById(fresh.id);
        if (!current) return;
        const adopted = document.importNode(fresh, true);
        current.replaceWith(adopted);
        htmx.process(adopted);
      });
    } catch (error) {
      // still offline: try again at the next tick
    }
  }
  function goOffline() {
    if (timer) return;
    offline.hidden = false;
    timer = setInterval(refresh, REFRESH_MS);
  }
  function goOnline() {
    open = true;
    offline.hidden = true;
    clearInterval(timer);
    timer = null;
  }
  live.addEventListener("htmx:wsOpen", goOnline);
  live.addEventListener("htmx:wsClose", (event) => {
    open = false;
    if (event.detail.event.code !== 4403) goOffline();
  });
  setTimeout(() => open || goOffline(), SOCKET_GRACE_MS);
})();
