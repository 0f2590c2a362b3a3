"""Local doubles of remote services, speaking the real protocols over real sockets.

Used by the test suite and the benchmark; not imported by the bot itself.
"""
