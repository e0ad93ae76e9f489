// Slipway's only script besides htmx. The Content-Security-Policy allows no inline script and
// no eval, so behaviour that would otherwise sit in an attribute lives here.

// Pollers marked data-poll-when="<checkbox id>" (live tail) ask for new lines only while that
// box is ticked and the browser tab is visible.
document.addEventListener("htmx:beforeRequest", (event) => {
  const guard = event.detail.elt.dataset.pollWhen;
  if (guard === undefined) return;
  const box = document.getElementById(guard);
  if (document.hidden || !box || !box.checked) event.preventDefault();
});
