"""bot/truebar is a library: it imports nothing else of this application, and the README's
example builds a client from its exports alone and transcribes a file."""

from __future__ import annotations

import ast
import asyncio
import os
import sys
from pathlib import Path

from bot import audio
from bot.testing.mock_truebar import MockTruebar

ROOT = Path(__file__).resolve().parent.parent


def test_the_truebar_package_imports_nothing_else_of_the_bot() -> None:
    for module in (ROOT / "bot" / "truebar").glob("*.py"):
        tree = ast.parse(module.read_text())
        imported = [
            node.module or ""
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.level == 0
        ] + [
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        ]
        outside = [
            name
            for name in imported
            if name.startswith("bot") and not name.startswith("bot.truebar")
        ]
        assert not outside, f"{module.name} imports {outside}"


def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    block = text.split("<!-- truebar-example -->", 1)[1]
    return block.split("```python\n", 1)[1].split("```", 1)[0]


async def test_the_readme_example_transcribes_a_file(
    mock_truebar: MockTruebar, voice_note: Path, tmp_path: Path
) -> None:
    pcm = tmp_path / "note.pcm"
    pcm.write_bytes((await audio.decode(voice_note)).pcm)
    example = tmp_path / "example.py"
    example.write_text(readme_example())
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUEBAR_")} | {
        "TRUEBAR_STT_WS_URL": mock_truebar.ws_url,
        "TRUEBAR_AUTH_URL": mock_truebar.auth_url,
        "TRUEBAR_USERNAME": "alice",
        "TRUEBAR_PASSWORD": "wonderland",
        "PYTHONPATH": str(ROOT),
    }
    run = await asyncio.create_subprocess_exec(
        sys.executable, str(example), str(pcm), env=env, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(run.communicate(), 60)
    assert run.returncode == 0
    lines = out.decode().splitlines()
    assert len(lines) > 3 and lines[-1].startswith("Hello") and lines[-1].endswith(".")
    assert mock_truebar.stats.sessions[-1].tag == "KALDI:sl-SI:*:*"
    code = [line for line in readme_example().splitlines() if line.strip()]
    assert len(code) <= 18  # a short example is one people read
