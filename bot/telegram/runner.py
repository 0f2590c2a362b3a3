"""``python -m bot run``: settings from the environment, signals for a clean stop."""

from __future__ import annotations

import asyncio
import signal

from bot.config import BotSettings, TruebarSettings
from bot.event_loop import new_event_loop
from bot.telegram.app import serve


def run_bot() -> int:
    settings = BotSettings.from_env()  # raises ConfigError with a clear message
    truebar = TruebarSettings.from_env()
    with asyncio.Runner(loop_factory=lambda: new_event_loop(settings.loop_gather_s)) as runner:
        runner.run(_main(settings, truebar))
    return 0


async def _main(settings: BotSettings, truebar: TruebarSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await serve(settings, truebar, stop)
