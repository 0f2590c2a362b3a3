"""What a stranger gets from the scaled profile's Caddy (config/Caddyfile): a status line
for every refusal, over HTTP/1.1 and HTTP/2, whatever the body. Used where Caddy runs on
its own (tests/test_deployment.py) and in the Compose project (tests/test_docker.py).

Caddy has to read a refused request's body before it answers. Answered first, an HTTP/2
stream whose body is still coming is reset after the answer (RST_STREAM), which clients
such as curl report as a failure with no status at all; an HTTP/1.1 connection with more
than 256 KB left unread is closed after the answer, and a client still sending may lose
the answer to the reset.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import httpx

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1_000_000  # Caddy's "1MB" (request_body max_size)
SIZES = (0, 100, 70_000, 300_000, MAX_BODY)  # bodies Caddy reads before refusing
CURL = shutil.which("curl")


def refusals(secret: str) -> dict[str, tuple[str, dict[str, str], int]]:
    """Requests Caddy answers itself, as name → (path, headers, status)."""
    return {
        "no secret": ("/telegram", {}, 403),
        "wrong secret": ("/telegram", {SECRET_HEADER: secret + "x"}, 403),
        "empty secret": ("/telegram", {SECRET_HEADER: ""}, 403),
        "other path": ("/telegram/x", {SECRET_HEADER: secret}, 404),
        "root": ("/", {}, 404),
    }


async def assert_refused_after_the_body(http: httpx.AsyncClient, secret: str) -> None:
    """Over HTTP/1.1 (``http``): up to 1 MB, every refusal comes once the body is read,
    on a connection that stays open; just over 1 MB (what fits in the sockets' buffers,
    so that a client sending it all before reading still reads the answer) a request
    without the secret still gets 403 and one with it 413, then the connection closes."""
    for size in SIZES:
        for name, (path, headers, status) in refusals(secret).items():
            answer = await http.post(path, content=bytes(size), headers=headers)
            seen = (answer.status_code, answer.headers.get("connection"), answer.content)
            assert seen == (status, None, b""), (name, size, seen)
    for size in (MAX_BODY + 1, 1_100_000):
        stranger = await http.post("/telegram", content=bytes(size))
        assert stranger.status_code == 403, (size, stranger.headers)
        too_large = await http.post(
            "/telegram", content=bytes(size), headers={SECRET_HEADER: secret}
        )
        assert too_large.status_code == 413, (size, too_large.headers)


def curl_supports_http2() -> bool:
    if CURL is None:
        return False
    version = subprocess.run([CURL, "--version"], capture_output=True, text=True, check=False)
    return "HTTP2" in version.stdout.split()


def curl_refusals(base_url: str, ca_file: Path, secret: str, workdir: Path) -> list[str]:
    """The answers curl gets that are not the expected status: each refusal of
    :data:`SIZES` over HTTP/2 (curl's default for HTTPS), three times, as an early answer
    raced the upload; and 5 MB over HTTP/1.1, where curl reads the answer while it sends
    (the answer comes once 1 MB is read, or at once when Content-Length is over 1 MB)."""
    asked = [
        (f"HTTP/2, {name}, {size} bytes", "--http2", size, path, headers, status)
        for size in SIZES
        for name, (path, headers, status) in refusals(secret).items()
        for _ in range(3)
    ]
    for name, headers in [("no secret", {}), ("secret", {SECRET_HEADER: secret})]:
        status = 413 if headers else 403
        asked.append(
            (f"HTTP/1.1, {name}, 5 MB", "--http1.1", 5_000_000, "/telegram", headers, status)
        )
    wrong = []
    for name, protocol, size, path, headers, status in asked:
        body = workdir / f"body-{size}"
        if not body.exists():
            body.write_bytes(bytes(size))
        # curl sends an empty header written "Name;" ("Name:" would remove it)
        options = [f"{k}: {v}" if v else f"{k};" for k, v in headers.items()]
        answer = subprocess.run(
            [
                *(str(CURL), protocol, "--silent", "--max-time", "20", "--cacert", str(ca_file)),
                *("--output", "/dev/null", "--write-out", "%{http_code} HTTP/%{http_version}"),
                *("--request", "POST", "--data-binary", f"@{body}"),
                *(arg for header in options for arg in ("--header", header)),
                f"{base_url}{path}",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if answer.stdout != f"{status} HTTP/{protocol.removeprefix('--http')}":
            wrong.append(f"{name}: {answer.stdout} (curl exit {answer.returncode})")
    return wrong
