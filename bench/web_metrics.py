"""The browser client's weight and its end-to-end latency.

python -m bench.web_metrics [--notifications 50]

1. Gzipped size of the client core and of core + hook + bell, React excluded
   (`npm run size` in clients/web: esbuild, minified ESM, gzip -9).
2. Time from the API call that creates a notification to its toast being in the page of a
   headless Chromium (Debian's /usr/bin/chromium via Playwright), one notification at a time:
   POST /api/v1/notifications → event store → outbox relay → RabbitMQ → realtime → WebSocket →
   React render. The browser stamps each toast with a MutationObserver; both clocks are this
   machine's wall clock.

Starts the notification, realtime and demo services as real processes on their own database
and broker namespace, and removes both at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import httpx

from bench.harness import clean_broker
from contracts.topology import Topology
from identity import JwtSettings, mint_token
from identity.tokens import WRITE_SCOPE
from services.notification.migrations import upgrade
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.infra import create_database, drop_database, free_port, unique_namespace
from tests.support.processes import ServiceProcess

REPO = Path(__file__).resolve().parents[1]
WEB = REPO / "clients" / "web"
JWT_SECRET = "bench-web-secret"
OBSERVE_TOASTS = """() => {
  window.__toastSeen = {};
  new MutationObserver((records) => {
    for (const record of records) for (const node of record.addedNodes) {
      const id = node.dataset && node.dataset.notificationId;
      if (id && node.classList.contains('tocsin-toast') && !(id in window.__toastSeen))
        window.__toastSeen[id] = performance.timeOrigin + performance.now();
    }
  }).observe(document.body, { childList: true, subtree: true });
}"""


def bundle_sizes() -> dict[str, dict[str, int]]:
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("npm is not installed")
    out = subprocess.run(
        [npm, "run", "--silent", "size", "--", "--json"],
        cwd=WEB,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    sizes: dict[str, dict[str, int]] = json.loads(out.strip().splitlines()[-1])
    return sizes


def ensure_demo_built() -> Path:
    dist = WEB / "dist" / "demo"
    if not (dist / "index.html").exists():
        subprocess.run(["npm", "run", "build"], cwd=WEB, check=True, capture_output=True)
    return dist


def start_system(stack: ExitStack, database_url: str, amqp_url: str, namespace: str) -> str:
    """Starts the three services; returns the demo page's URL."""
    api_port, rt_port, demo_port = free_port(), free_port(), free_port()
    demo = f"http://127.0.0.1:{demo_port}"
    common = {"AMQP_URL": amqp_url, "TOCSIN_NAMESPACE": namespace, "JWT_SECRET": JWT_SECRET}
    common |= {"HOST": "127.0.0.1", "LOG_LEVEL": "WARNING"}
    specs = [
        (
            "notification",
            {"PORT": str(api_port), "DATABASE_URL": database_url, "CORS_ORIGINS": demo}
            | {"INCIDENTS_ENABLED": "false"},
            f"http://127.0.0.1:{api_port}/readyz",
        ),
        (
            "realtime",
            {"PORT": str(rt_port), "NOTIFICATION_API_URL": f"http://127.0.0.1:{api_port}"}
            | {"ALLOWED_ORIGINS": demo},
            f"http://127.0.0.1:{rt_port}/readyz",
        ),
        (
            "demo",
            {"PORT": str(demo_port), "NOTIFICATION_API_URL": f"http://127.0.0.1:{api_port}"}
            | {"PUBLIC_WS_URL": f"ws://127.0.0.1:{rt_port}", "DEMO_USERS": "bench-user"}
            | {"STATIC_DIR": str(ensure_demo_built())},
            f"{demo}/healthz",
        ),
    ]
    for name, env, health in specs:
        process = ServiceProcess.python_module(
            f"bench-{name}", f"services.{name}", {**common, **env}, health
        )
        stack.callback(process.stop)
        process.start()
    return demo


def measure_toasts(demo: str, api_url: str, count: int) -> list[float]:
    from playwright.sync_api import sync_playwright

    token = mint_token(JwtSettings(secret=JWT_SECRET), "bench", scopes=[WRITE_SCOPE])
    latencies: list[float] = []
    with sync_playwright() as playwright, httpx.Client(base_url=api_url) as http:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"{demo}/?user=bench-user")
        page.wait_for_selector("[data-testid=tocsin-connection][data-state=connected]")
        page.evaluate(OBSERVE_TOASTS)
        for i in range(count):
            started = time.time() * 1000
            response = http.post(
                "/api/v1/notifications",
                json={"recipients": ["bench-user"], "type": "bench", "title": f"Bench {i}"},
                headers={"Authorization": f"Bearer {token}"},
            )
            response.raise_for_status()
            nid = response.json()["notifications"][0]["id"]
            page.wait_for_function(f"() => {json.dumps(nid)} in window.__toastSeen", timeout=15000)
            latencies.append(page.evaluate(f"window.__toastSeen[{json.dumps(nid)}]") - started)
        browser.close()
    return latencies


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.web_metrics")
    parser.add_argument("--notifications", type=int, default=50)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--amqp-url", default="amqp://guest:guest@127.0.0.1:5672/")
    args = parser.parse_args(argv)

    sizes = bundle_sizes()
    database_url = create_database(args.database_url, prefix="tocsin_bench_web")
    namespace = f"{unique_namespace()}-{uuid.uuid4().hex[:4]}"
    try:
        upgrade(database_url)
        with ExitStack() as stack:
            demo = start_system(stack, database_url, args.amqp_url, namespace)
            config = httpx.get(f"{demo}/demo/config").json()
            latencies = measure_toasts(demo, config["api_url"], args.notifications)
    finally:
        drop_database(database_url)
        asyncio.run(clean_broker(args.amqp_url, Topology(namespace)))

    print("| metric | value | goal |")
    print("|---|---|---|")
    for name, goal in (("core", "≤ 4 KB"), ("core + hook + bell", "≤ 15 KB")):
        kb = sizes[name]["gzip"] / 1024
        print(f"| gzipped size, {name} (React excluded) | {kb:.2f} KB | {goal} |")
    print(
        f"| API create → toast visible, p50 (n={len(latencies)}) | "
        f"{statistics.median(latencies):.1f} ms | |"
    )
    print(f"| API create → toast visible, p90 | {percentile(latencies, 0.9):.1f} ms | |")
    print(f"| API create → toast visible, max | {max(latencies):.1f} ms | |")


if __name__ == "__main__":
    main()
