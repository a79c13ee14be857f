"""`python -m syncd.sandbox`: run the lemlist and Kit fakes until interrupted, printing their URLs."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path

from pydantic import ValidationError

from syncd.sandbox.activity import ActivitySource, load_events
from syncd.sandbox.server import DEFAULT_HISTORY_DAYS, Sandbox
from syncd.sandbox.vendors import VENDORS


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m syncd.sandbox", description=__doc__)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port-lemlist", type=int, default=0, help="lemlist fake port (default: any free port)")
    p.add_argument("--port-kit", type=int, default=0, help="Kit fake port (default: any free port)")
    p.add_argument("--seed", type=int, default=42, help="seed of the generated activity (default 42)")
    p.add_argument("--timezone", default="Europe/London", help="zone the demo team works in")
    p.add_argument("--history-days", type=int, default=DEFAULT_HISTORY_DAYS, help="days of generated history")
    p.add_argument("--events", type=Path, help="JSON file of explicit events, served instead of generated ones")
    p.add_argument("--json", action="store_true", help="print the URLs and keys as one JSON line")
    p.add_argument(
        "--vendors",
        default="",
        help=f"comma-separated extra fakes to run, or 'all' ({', '.join(VENDORS)})",
    )
    return p


async def _serve(args: argparse.Namespace, activity: ActivitySource | None) -> None:
    sandbox = Sandbox(
        seed=args.seed,
        activity=activity,
        timezone=args.timezone,
        history_days=args.history_days,
        host=args.host,
        lemlist_port=args.port_lemlist,
        kit_port=args.port_kit,
        vendors=_vendor_names(args.vendors),
        # Explicit events describe lemlist and Kit; the other fakes then serve nothing.
        vendor_events={} if activity is not None else None,
    )
    async with sandbox:
        # The demo keys are public constants of the sandbox, not secrets.
        if args.json:
            print(
                json.dumps(
                    {
                        "lemlist_url": sandbox.lemlist_url,
                        "kit_url": sandbox.kit_url,
                        "lemlist_api_key": sandbox.lemlist_api_key,
                        "kit_api_key": sandbox.kit_api_key,
                        "vendors": {
                            name: {"url": sandbox.url(name), "api_key": sandbox.api_keys[name]}
                            for name in sandbox.names
                        },
                    }
                ),
                flush=True,
            )
        else:
            print(f"lemlist  {sandbox.lemlist_url}  key {sandbox.lemlist_api_key}", flush=True)
            print(f"kit      {sandbox.kit_url}  key {sandbox.kit_api_key}", flush=True)
            for name in sandbox.names[2:]:
                print(f"{name:<8} {sandbox.url(name)}  key {sandbox.api_keys[name]}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()


def _vendor_names(text: str) -> list[str]:
    if text.strip() == "all":
        return list(VENDORS)
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in VENDORS]
    if unknown:
        raise SystemExit(f"unknown vendor(s): {', '.join(unknown)} (known: {', '.join(VENDORS)})")
    return names


def main(argv: list[str] | None = None) -> int:
    """Run the sandbox until SIGINT or SIGTERM; return the exit code."""
    args = _parser().parse_args(argv)
    activity: ActivitySource | None = None
    if args.events is not None:
        try:
            activity = load_events(args.events)
        except (OSError, ValidationError) as e:
            print(f"{args.events}: cannot read events: {e}", file=sys.stderr)
            return 2
    asyncio.run(_serve(args, activity))
    return 0


if __name__ == "__main__":
    sys.exit(main())
