"""Local doubles of remote services, speaking the real protocols over real sockets.

Used by the test suite and the benchmark; not imported by the bot itself.
"""

WAIT_LIMIT_S = 30.0
"""The longest a double's ``wait_for`` waits: a broken bot fails a test, not hangs it."""
