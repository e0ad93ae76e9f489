// The deployment page's live log. The server pushes the fragment over server-sent events
// (htmx's sse extension, hx-ext="sse" on the page); while that stream is down (Redis or the
// server unreachable, a proxy that buffers, the browser reconnecting) ask for the fragment
// every 2 s instead, as the page always did. The fragment loses data-poll-url once the
// deployment is finished, and polling stops with it.
(function () {
  "use strict";
  let streaming = false;
  document.addEventListener("htmx:sseOpen", function () { streaming = true; });
  document.addEventListener("htmx:sseError", function () { streaming = false; });
  document.addEventListener("htmx:sseClose", function () { streaming = false; });
  window.setInterval(function () {
    if (streaming || document.hidden) return;
    const fragment = document.querySelector("[data-poll-url]");
    if (fragment) {
      htmx.ajax("GET", fragment.dataset.pollUrl, { target: fragment, swap: "outerHTML" });
    }
  }, 2000);
})();
