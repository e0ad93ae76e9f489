"""How long after the worker finishes does the deployment page show it? (browser benchmark)

    .venv/bin/python bench/live_log.py [N] [--port 8112]

Starts the emulator, a database of its own, a Celery worker and gunicorn (gthread), signs in
with headless Debian Chromium (/usr/bin/chromium) and, N times, plans a new Lambda service,
clicks "Confirm and deploy" and waits until the page shows `succeeded`. For each it prints
click → final state on the page, click → the worker's write of the final state
(`finished_at`), and the difference: what the page adds (goal: < 300 ms). Then the same with
the event stream blocked (a proxy that drops it), so the page falls back to polling every 2 s.
The load average is printed beside the figures.
"""

import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("SLIPWAY_BENCH_DB", "slipway_bench_live")
import _setup  # noqa: E402 — sets the environment first

# Apart from other benchmarks that may run at the same time on this machine.
os.environ.update(CELERY_QUEUE="slipway-bench-live", CACHE_KEY_PREFIX="slipway-bench-live")
N = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 5
PORT = int(sys.argv[sys.argv.index("--port") + 1]) if "--port" in sys.argv else 8112
PASSWORD = "bench-pass-123-live"
SOURCE = "def handler(event, context):\n    return 1\n"
# Set by the page itself when the final state is in the DOM (no Playwright polling in between).
WATCH_FINAL = """
new MutationObserver(() => {
  if (!window.finalAt && document.querySelector('.deployment[data-status="succeeded"]')) {
    window.finalAt = Date.now();
  }
}).observe(document, {subtree: true, childList: true, attributes: true});
"""


def main():
    emulator_proc, url = _setup.start_emulator()
    procs = [emulator_proc]
    try:
        _setup.setup_django()
        env = {**os.environ, "DEBUG": "0", "SLIPWAY_SECURE_COOKIES": "false", "CONN_MAX_AGE": "60"}
        procs.append(start_worker(env))
        procs.append(start_gunicorn(env))
        run()
    finally:
        for proc in reversed(procs):
            proc.terminate()
            proc.wait(timeout=15)


def start_worker(env):
    proc = subprocess.Popen(
        # --quiet is celery's own option (before the command), not the worker's.
        [sys.executable, "-m", "celery", "-A", "portal", "--quiet", "worker", "--pool", "threads"]
        + ["--concurrency", "4", "--queues", "slipway-bench-live", "--loglevel", "WARNING"]
        + ["--without-gossip", "--without-mingle"],
        cwd=_setup.ROOT,
        env=env,
    )
    from portal.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if app.control.ping(timeout=0.5):
            return proc
    raise SystemExit("the Celery worker did not start")


def start_gunicorn(env):
    import http.client

    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "portal.wsgi", "--bind", f"127.0.0.1:{PORT}"]
        + ["--workers", "2", "--threads", "8", "--worker-class", "gthread"]
        + ["--log-level", "warning"],
        cwd=_setup.ROOT,
        env=env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=2)
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            return proc
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not start")


def plan(user, team, environment, slug):
    from deployments import services
    from deployments.forms.lambda_ import deterministic_zip

    spec = {
        "kind": "lambda",
        "runtime": "python3.12",
        "handler": "app.handler",
        "memory_size": 128,
        "timeout": 3,
        "architecture": "x86_64",
        "description": "",
        "environment": {},
    }
    return services.service_launch(
        user=user,
        owner=team,
        slug=slug,
        kind="lambda",
        environment=environment,
        spec=spec,
        code=deterministic_zip("app.py", SOURCE),
        confirm=False,
    )


def run():
    from django.contrib.auth import get_user_model
    from playwright.sync_api import sync_playwright

    from catalog import services as catalog_services
    from catalog.models import Environment
    from deployments.models import Deployment

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # ORM calls beside Playwright's loop
    user = get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD)
    team = catalog_services.team_create(slug="payments", name="Payments")
    catalog_services.membership_add(team=team, user=user)
    dev = Environment.objects.create(slug="dev", name="Development", aws_account_id="123456789012")
    base = f"http://localhost:{PORT}"
    print(f"gunicorn gthread 2×8, a threads worker ×4; load {os.getloadavg()}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--headless"]
        )
        page = browser.new_page(base_url=base)
        page.add_init_script(WATCH_FINAL)
        page.goto("/accounts/login/")
        page.get_by_label("Username").fill("alice")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/catalog/")
        results = {}
        for mode in ("pushed (SSE)", "polling (stream blocked)"):
            if mode.startswith("polling"):
                page.route("**/events/", lambda route: route.abort())
            rows = []
            for i in range(N + 1):
                slug = f"{'sse' if mode.startswith('pushed') else 'poll'}-{i}"
                deployment = plan(user, team, dev, slug)
                page.goto(deployment.get_absolute_url())
                clicked = time.time()
                page.get_by_role("button", name="Confirm and deploy").click()
                page.wait_for_selector('.deployment[data-status="succeeded"]', timeout=60_000)
                seen = page.evaluate("window.finalAt") / 1000
                finished = Deployment.objects.get(pk=deployment.pk).finished_at.timestamp()
                if i:  # the first of each mode warms the worker and the page
                    rows.append((seen - clicked, finished - clicked, seen - finished))
            results[mode] = rows
        browser.close()
    print(f"\nN={N} Lambda deployments each; seconds after the click (median, max)")
    print(f"{'':26} {'page shows end':>16} {'worker wrote end':>18} {'page lag ms':>16}")
    for mode, rows in results.items():
        cols = [[r[k] for r in rows] for k in range(3)]
        print(
            f"{mode:26} {statistics.median(cols[0]):8.2f} {max(cols[0]):6.2f}"
            f"   {statistics.median(cols[1]):8.2f} {max(cols[1]):6.2f}"
            f"   {1000 * statistics.median(cols[2]):8.0f} {1000 * max(cols[2]):6.0f}"
        )
    lag = 1000 * max(r[2] for r in results["pushed (SSE)"])
    print(f"\ngoal: the page shows the end < 300 ms after the worker wrote it: max {lag:.0f} ms")
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
