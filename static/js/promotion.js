// Sign-off, promotion and lock refusals (403 forbidden, 409 conflict, 422 invalid, 423 locked)
// answer with the re-rendered panel or card saying why; htmx drops 4xx bodies unless told.
document.addEventListener("htmx:beforeSwap", (event) => {
  const refusal = [403, 409, 422, 423].includes(event.detail.xhr.status);
  const element = event.detail.requestConfig && event.detail.requestConfig.elt;
  if (refusal && element && element.closest("[data-swap-refusals]")) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
