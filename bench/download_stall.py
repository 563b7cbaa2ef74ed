"""How long the event loop stops answering while the dashboard builds a download.

The dashboard, the personal pages, the chat bots and the outbox share one event loop
(``hoinghi run``): whatever a request does on the loop, nobody else is answered meanwhile. A
database of ``--invitees`` (10,000) is prepared once as ``bench/web.py dashboard`` prepares its
own (the example plan's delegates with answers, linked accounts, a sent notice, check-ins;
``--audit`` audit rows), not timed. Then each side runs in a fresh process on a copy of it: the
web application in process (no socket, as ``bench/web.py cpu``), an office staff member signed
in, and for each file of ``--files`` (``report``: /office/report.xlsx; ``links``:
/office/invitations/links.xlsx; ``slips``: /office/invitations/slips.docx; ``sheet``, ``cards``,
``present``: the meeting day's /office/attendance/sign-sheet.docx, name-cards.docx, present.xlsx)
``--runs`` downloads,
one at a time, each with two watchers on the loop:

* **ticker**: a coroutine that wakes every 10 ms; its largest gap between two wake-ups, less
  the 10 ms: the longest the loop did not come back to anyone (``stall``);
* **healthz**: ``GET /healthz`` asked again and again (a pause of 50 ms between answers, as a
  monitor would): the longest wait from when a probe was due to its answer (``/healthz max``;
  in process, a probe due while the loop is held is asked only once it is free) and how many
  were answered during the download (``probes``).

``wall`` is the download's time, from the request to the file's last byte, ``CPU`` the process's
CPU time meanwhile (every thread's, the watchers' small share included: steadier than ``wall``
on a shared machine). The figures are the median run's (by stall), with the machine and its
load average.

``--baseline TREE`` also measures another copy of the code (e.g. ``git archive 8987cd9 | tar
-x -C /tmp/base``) on a copy of the same database, the sides in turns. Always exits 0: a
measurement, not a test.

Usage (from the repository root)::

    .venv/bin/python bench/download_stall.py                        # report, links; 10,000
    .venv/bin/python bench/download_stall.py --baseline /tmp/base --runs 3
    .venv/bin/python bench/download_stall.py --files slips --runs 1 --invitees 2000
    .venv/bin/python bench/download_stall.py --files sheet,cards,present --runs 1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

HERE = Path(__file__).resolve().parents[1]
# The code a worker measures: this tree, or the baseline the orchestrator names.
TREE = Path(os.environ.get("HOINGHI_BENCH_TREE") or HERE)
if str(TREE) not in sys.path:
    sys.path.insert(0, str(TREE))
# bench.common and bench.web: the measured tree's when it has them (the baseline's helpers used
# here are the same), so that they import its code; this tree's otherwise.
sys.path.insert(1, str(HERE))
from bench.common import copy_database, machine  # noqa: E402

FILES = {
    "report": "/office/report.xlsx",
    "links": "/office/invitations/links.xlsx",
    "slips": "/office/invitations/slips.docx",
    "sheet": "/office/attendance/sign-sheet.docx",
    "cards": "/office/attendance/name-cards.docx",
    "present": "/office/attendance/present.xlsx",
}
TICK = 0.010
PROBE_PAUSE = 0.050


async def worker(db: Path, files: list[str], runs: int) -> dict[str, list[dict[str, float]]]:
    """Each file's downloads on ``db``, one at a time, with the loop watched: per run, the
    ticker's largest gap, the longest /healthz round trip, the probes answered, the wall time
    and the file's size."""
    from bench.web import CPU_HOST, call, hoinghi_app
    from bot.app import freeze_startup_heap

    app = await hoinghi_app(db, f"http://{CPU_HOST}")
    signed_in = (("cookie", await sign_in(app, db)),)
    freeze_startup_heap()  # as `hoinghi run` does once started
    results: dict[str, list[dict[str, float]]] = {}
    for name in files:
        path = FILES[name]
        status, _ = await call(app, "GET", path, headers=signed_in)  # warm: imports, templates
        assert status == 200, (name, status)
        for _ in range(runs):
            results.setdefault(name, []).append(await watched(app, path, signed_in))
    return results


async def sign_in(app: Any, db: Path) -> str:
    """Sign the bench's office staff member in with a one-time link, as a browser does; the
    session's cookie (``name=value``)."""
    from bench.web import _HIDDEN, CPU_HOST, call, office_link

    secret = await office_link(db)
    path = f"/office/signin/{secret}"
    status, page = await call(app, "GET", path)
    assert status == 200, status
    form = dict(_HIDDEN.findall(page.decode()))
    body = urlencode({k: v for k, v in form.items() if k != "lang"}).encode()
    scope: dict[str, Any] = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8080),
        "headers": [
            (b"host", CPU_HOST.encode()), (b"origin", f"http://{CPU_HOST}".encode()),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"content-length", str(len(body)).encode()),
        ],
    }  # fmt: skip
    sent: list[bool] = []
    cookies: list[str] = []

    async def receive() -> dict[str, Any]:
        if sent:
            return {"type": "http.disconnect"}
        sent.append(True)
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Any) -> None:
        if message["type"] == "http.response.start":
            assert message["status"] == 303, message["status"]
            for name, value in message["headers"]:
                cookie = value.decode().split(";", 1)[0]
                # Signing in also clears the desk's cookie (``hoinghi_desk=""``).
                if name == b"set-cookie" and not cookie.endswith('=""'):
                    cookies.append(cookie)

    await app(scope, receive, send)
    assert cookies, "signing in set no cookie"
    return "; ".join(cookies)


async def watched(app: Any, path: str, headers: Any) -> dict[str, float]:
    """One download of ``path`` with the ticker and the /healthz prober on the loop."""
    from bench.web import call

    done = asyncio.Event()
    gaps: list[float] = []
    trips: list[float] = []

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(TICK)
            now = time.perf_counter()
            gaps.append(now - last - TICK)
            last = now

    async def prober() -> None:
        due = time.perf_counter()
        while not done.is_set():
            status, _ = await call(app, "GET", "/healthz")
            assert status == 200, status
            # From when the probe was due (its pause over), not from when the loop got round
            # to asking it: a monitor's request waits for the loop as long.
            trips.append(time.perf_counter() - due)
            due = time.perf_counter() + PROBE_PAUSE
            await asyncio.sleep(PROBE_PAUSE)

    watchers = [asyncio.create_task(ticker()), asyncio.create_task(prober())]
    await asyncio.sleep(0.1)  # both watchers running before the download starts
    started, cpu = time.perf_counter(), time.process_time()
    status, content = await call(app, "GET", path, headers=headers)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    done.set()
    await asyncio.gather(*watchers)
    assert status == 200, (path, status)
    return {
        "stall": max(gaps),
        "healthz_max": max(trips),
        "probes": float(len(trips)),
        "wall": wall,
        "cpu": cpu,
        "bytes": float(len(content)),
    }


def run_side(tree: Path | None, db: Path, files: list[str], runs: int) -> dict[str, Any]:
    """A fresh process measuring ``tree`` (None: this one) on ``db``; its results."""
    env = dict(os.environ, PYTHONHASHSEED="0")
    if tree is not None:
        env["HOINGHI_BENCH_TREE"] = str(tree)
    else:
        env.pop("HOINGHI_BENCH_TREE", None)
    command = [sys.executable, __file__, "worker", str(db), ",".join(files), str(runs)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the worker failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    """Prepare the database once, then measure each side in turns and print the figures."""
    if sys.argv[1:2] == ["worker"]:
        db, files, runs = Path(sys.argv[2]), sys.argv[3].split(","), int(sys.argv[4])
        print(json.dumps(asyncio.run(worker(db, files, runs))))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invitees", type=int, default=10_000)
    parser.add_argument("--audit", type=int, default=1_000, help="audit rows in the database")
    parser.add_argument("--files", default="report,links", help=f"of {','.join(FILES)}")
    parser.add_argument("--runs", type=int, default=3, help="downloads of each file a side")
    parser.add_argument("--baseline", type=Path, help="another copy of the code to measure too")
    parser.add_argument("--keep", type=Path, help="prepare once into this file, then copy it")
    args = parser.parse_args()
    files = [name for name in args.files.split(",") if name]
    unknown = [name for name in files if name not in FILES]
    if unknown:
        parser.error(f"unknown files: {', '.join(unknown)}")
    print(machine())
    sides: dict[str, Path | None] = {"this tree": None}
    if args.baseline is not None:
        sides = {"baseline": args.baseline.resolve(), **sides}
    with tempfile.TemporaryDirectory(prefix="hoinghi-bench-stall-") as folder:
        prepared = Path(folder) / "prepared.db"
        started = time.perf_counter()
        if args.keep is not None and args.keep.exists():
            copy_database(args.keep, prepared)
        else:
            from bench.web import prepare_dashboard

            asyncio.run(prepare_dashboard(prepared, args.invitees, args.audit))
            if args.keep is not None:
                copy_database(prepared, args.keep)
        print(f"prepared {args.invitees:,} invitees in {time.perf_counter() - started:.0f} s "
              f"(not timed)")  # fmt: skip
        results: dict[str, dict[str, list[dict[str, float]]]] = {side: {} for side in sides}
        for side, tree in sides.items():
            db = Path(folder) / f"{len(results[side])}-{side.replace(' ', '-')}.db"
            copy_database(prepared, db)
            for name, runs in run_side(tree, db, files, args.runs).items():
                results[side][name] = runs
            db.unlink()
    print(f"{args.invitees:,} invitees, {args.runs} download(s) of each file a side; {machine()}")
    print(f"{'file':<8} {'side':<10} {'stall ms':>9} {'/healthz max ms':>16} {'probes':>7} "
          f"{'wall s':>7} {'CPU s':>6} {'MB':>6}   "
          "(median run by stall; stalls of every run)")  # fmt: skip
    for name in files:
        for side in sides:
            runs = sorted(results[side][name], key=lambda run: run["stall"])
            middle = runs[len(runs) // 2]
            every = ", ".join(f"{run['stall'] * 1000:.0f}" for run in results[side][name])
            print(f"{name:<8} {side:<10} {middle['stall'] * 1000:>9.0f} "
                  f"{middle['healthz_max'] * 1000:>16.0f} {middle['probes']:>7.0f} "
                  f"{middle['wall']:>7.2f} {middle['cpu']:>6.2f} {middle['bytes'] / 1e6:>6.2f}   "
                  f"({every})")  # fmt: skip
    medians = {
        side: statistics.median(run["stall"] for name in files for run in results[side][name])
        for side in sides
    }
    print("median stall over every download: " + ", ".join(
        f"{side} {value * 1000:.0f} ms" for side, value in medians.items()
    ))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
