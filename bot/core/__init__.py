"""The note core: what a note is, its rules, the admission policy, and its work top-down,
knowing no Telegram, no storage backend and no speech service.

It talks to the world only through its ports (:mod:`bot.core.ports`); the adapters —
Telegram (:mod:`bot.telegram`), the storage backends (:mod:`bot.storage`), the speech
service and its decoder (:mod:`bot.stt`) — implement them, and the composition root
(:mod:`bot.app`) wires them. It imports nothing of the application but itself (an
import-linter contract in ``./dev test`` keeps it so)."""
