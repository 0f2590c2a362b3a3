"""The PCM this package produces: 16 kHz mono signed 16-bit little-endian samples, the
format Truebar streams (its quickstart converts with ``ffmpeg -ac 1 -ar 16000 -f s16le``).

Defined here, not taken from the Truebar client, so that decoding depends on nothing else
of the application; a test checks that the client expects the same.
"""

SAMPLE_RATE = 16_000  # Hz
SAMPLE_WIDTH = 2  # bytes per sample (s16le), one channel
BYTES_PER_MS = SAMPLE_RATE * SAMPLE_WIDTH // 1000
CHUNK_BYTES = 8192
"""The chunks yielded by default: 256 ms, the frame a Truebar client streams (its own web
client's size)."""
