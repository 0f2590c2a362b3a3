import asyncio
import threading
from pathlib import Path

import pytest

from bot import audio, truebar
from bot.audio import reference
from tests import audio_fixtures as af
from tests.audio_fixtures import FORMATS
from tests.auxil.growing import GrowingFile


def test_the_audio_is_the_pcm_the_truebar_client_streams() -> None:
    """bot.audio defines its format itself, to depend on nothing else of the application:
    it must still be what the Truebar client expects, in the chunks it sends."""
    names = ("SAMPLE_RATE", "SAMPLE_WIDTH", "BYTES_PER_MS", "CHUNK_BYTES")
    assert [getattr(audio, n) for n in names] == [getattr(truebar, n) for n in names]


@pytest.mark.parametrize("name", [*(f"speech.{f}" for f in FORMATS), "speech.mp4"])
async def test_every_format_decodes_to_16k_mono_s16le(audio_dir: Path, name: str) -> None:
    reference = audio.decode_file(audio_dir / "speech.wav")
    pcm = await audio.decode(audio_dir / name)
    assert len(pcm.pcm) % 2 == 0
    # same speech, same duration (codecs pad a little)
    assert pcm.duration_s == pytest.approx(reference.duration_s, abs=0.12)
    assert reference.duration_s > 3


async def test_decoding_runs_off_the_event_loop(
    audio_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[threading.Thread] = []
    real = audio.decode_file

    def spy(path: Path) -> audio.PcmAudio:
        seen.append(threading.current_thread())
        return real(path)

    monkeypatch.setattr(reference, "decode_file", spy)
    await audio.decode(audio_dir / "speech.ogg")
    assert seen and seen[0] is not threading.main_thread()


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("empty.ogg", audio.EmptyAudio),
        ("garbage.ogg", audio.UndecodableAudio),
        ("no_audio.mp4", audio.UndecodableAudio),
        ("missing.ogg", audio.UndecodableAudio),
    ],
)
async def test_bad_input_raises_typed_errors(
    audio_dir: Path, name: str, error: type[audio.AudioError]
) -> None:
    with pytest.raises(error):
        await audio.decode(audio_dir / name)


async def test_silence_decodes_but_has_duration(audio_dir: Path) -> None:
    pcm = await audio.decode(audio_dir / "silence.ogg")
    assert pcm.duration_s == pytest.approx(2.0, abs=0.1)


async def test_chunks_are_256ms_and_cover_everything() -> None:
    pcm = audio.PcmAudio(bytes(range(256)) * 100)  # 25600 bytes = 800 ms
    chunks = [c async for c in audio.pcm_chunks(pcm)]
    assert [len(c) for c in chunks] == [8192, 8192, 8192, 1024]  # 4096 samples each
    assert b"".join(chunks) == pcm.pcm
    assert asyncio.iscoroutinefunction(audio.decode)


@pytest.mark.parametrize("name", [*(f"speech.{f}" for f in FORMATS), "speech.mp4"])
async def test_stream_matches_pydub_decode(
    audio_dir: Path, name: str, decoder: audio.Decoder
) -> None:
    reference = await audio.decode(audio_dir / name)
    stream = await decoder.stream(audio_dir / name)
    chunks = [c async for c in stream.chunks()]
    assert all(len(c) == 8192 for c in chunks[:-1])
    assert len(b"".join(chunks)) == pytest.approx(len(reference.pcm), abs=3200)
    assert stream.duration_s == pytest.approx(reference.duration_s, abs=0.1)


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("empty.ogg", audio.EmptyAudio),
        ("garbage.ogg", audio.UndecodableAudio),
        ("no_audio.mp4", audio.UndecodableAudio),
        ("missing.ogg", audio.UndecodableAudio),
    ],
)
async def test_stream_reports_bad_input_when_opened(
    audio_dir: Path, name: str, error: type[audio.AudioError], decoder: audio.Decoder
) -> None:
    with pytest.raises(error):
        await decoder.stream(audio_dir / name)


async def test_stream_closed_early_stops_ffmpeg(audio_dir: Path, decoder: audio.Decoder) -> None:
    ended: list[audio.ChildExit] = []
    decoder = audio.Decoder(decoder.sandbox.ffmpeg, decoder.sandbox.ffprobe, on_exit=ended.append)
    stream = await decoder.stream(audio_dir / "speech.wav", chunk_bytes=320)
    await stream.close()
    (child,) = ended
    assert child.code == -9  # killed, and reaped


async def test_probe_reads_the_duration_and_finds_audio(
    audio_dir: Path, decoder: audio.Decoder
) -> None:
    found = await decoder.probe(audio_dir / "speech.m4a")
    assert found.duration_s == pytest.approx(6.5, abs=1.5) and found.has_audio
    assert await decoder.probe(audio_dir / "garbage.ogg") == audio.Probe(None, has_audio=False)
    silent = await decoder.probe(audio_dir / "no_audio.mp4")  # a video with no sound
    assert silent.duration_s is not None and not silent.has_audio


@pytest.mark.parametrize("name", [*(f"speech.{f}" for f in FORMATS), "speech.mp4"])
async def test_the_bot_sends_the_quickstarts_conversion_to_the_byte(
    audio_dir: Path, name: str, decoder: audio.Decoder
) -> None:
    """The bot's decoder, in its sandbox, gives exactly what the Truebar quickstart's
    ``ffmpeg -i FILE -ac 1 -ar 16000 -f s16le`` gives: run with the bot's own build, and
    with Debian's full ffmpeg as a user of the quickstart would."""
    import hashlib
    import shutil

    stream = await decoder.stream(audio_dir / name, budget_s=3600)
    sandboxed = b"".join([c async for c in stream.chunks()])
    assert len(sandboxed) > 16000 * 2 * 3  # seconds of speech, not an empty success
    assert not stream.truncated
    debian = shutil.which("ffmpeg")
    assert debian is not None
    for binary in (decoder.sandbox.ffmpeg, debian):
        quickstart = await af.quickstart_pcm(binary, audio_dir / name)
        assert hashlib.sha256(sandboxed).hexdigest() == hashlib.sha256(quickstart).hexdigest()


async def test_a_stream_stops_at_its_budget_and_says_it_was_cut(
    audio_dir: Path, decoder: audio.Decoder
) -> None:
    stream = await decoder.stream(audio_dir / "speech.ogg", budget_s=1.0)
    pcm = b"".join([c async for c in stream.chunks()])
    assert len(pcm) == 32000 and stream.truncated
    whole = await decoder.stream(audio_dir / "speech.ogg", budget_s=60)
    assert len(b"".join([c async for c in whole.chunks()])) > 32000 and not whole.truncated


def test_a_files_budget_is_the_least_of_what_it_declares_and_what_its_size_allows() -> None:
    from bot.audio import duration_budget

    assert duration_budget(1, 1800, None) == pytest.approx(3.05)  # 1 s said: about 3 s
    assert duration_budget(600, 1800, 10**6) == pytest.approx(632)
    assert duration_budget(5000, 1800, None) == pytest.approx(1892)  # never past the maximum
    assert duration_budget(None, 1800, 25_000) == pytest.approx(107)  # 25 KB: 100 s, + margin
    # 40 KB that claims half an hour: what its size allows, not what it says
    assert duration_budget(1800, 1800, 40_000) == pytest.approx(170)
    assert duration_budget(None, 1800, None) == pytest.approx(1892)


async def test_a_decoder_dies_with_the_process_that_started_it(
    tmp_path: Path, decoder: audio.Decoder
) -> None:
    """However the bot dies (SIGKILL, the OOM killer), no decoder it started lives on:
    not even one that is not writing (here: waiting forever on a file that never comes),
    which a closed pipe would not stop."""
    import contextlib
    import os
    import signal
    import sys

    never = tmp_path / "never"
    os.mkfifo(never)  # opening it blocks until a writer comes: none will
    script = tmp_path / "holder.py"
    script.write_text(
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from bot.audio.sandbox import Sandbox\n"
        "async def main() -> None:\n"
        "    sandbox = Sandbox(sys.argv[2])\n"
        "    child = await sandbox.spawn(sandbox.decode_argv(Path(sys.argv[1]), None), 4096)\n"
        # no event says the wrappers have run (setpriv sets the death signal): look
        "    comm = Path(f'/proc/{child.pid}/comm')\n"
        "    while comm.read_text().strip() != 'ffmpeg':\n"
        "        await asyncio.sleep(0.005)\n"
        "    print(child.pid, flush=True)\n"
        "    await asyncio.Event().wait()\n"
        "asyncio.run(main())\n"
    )
    holder = await asyncio.create_subprocess_exec(
        *[sys.executable, str(script), str(never), decoder.sandbox.ffmpeg],
        stdout=asyncio.subprocess.PIPE,
    )
    assert holder.stdout is not None
    child = int(await asyncio.wait_for(holder.stdout.readline(), 30))
    pidfd = os.pidfd_open(child)
    try:
        holder.send_signal(signal.SIGKILL)
        await holder.wait()
        ended = asyncio.Event()
        asyncio.get_running_loop().add_reader(pidfd, ended.set)
        async with asyncio.timeout(10):
            await ended.wait()  # readable once the decoder has exited
        asyncio.get_running_loop().remove_reader(pidfd)
    finally:
        with contextlib.suppress(ProcessLookupError):
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)  # a failed test leaves no orphan
        os.close(pidfd)


async def test_a_decoder_that_stalls_is_killed_at_the_stall_limit(
    tmp_path: Path, audio_dir: Path
) -> None:
    from bot.audio.sandbox import DecoderLimits

    stalling = tmp_path / "stalling-ffmpeg"
    stalling.write_text("#!/bin/sh\nhead -c 10000 /dev/zero\nexec sleep 30\n")  # then nothing
    stalling.chmod(0o755)
    decoder = audio.Decoder(ffmpeg=str(stalling), limits=DecoderLimits(stall_s=0.3))
    stream = await decoder.stream(audio_dir / "speech.ogg")
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(audio.UndecodableAudio, match="took too long"):
        async for _ in stream.chunks():
            pass
    assert 0.25 <= loop.time() - started < 5


@pytest.mark.parametrize(
    ("idle", "policy", "nice"), [(True, "SCHED_IDLE", "-"), (False, "SCHED_OTHER", "19")]
)
async def test_decoders_run_in_the_idle_class_or_at_the_lowest_priority(
    tmp_path: Path, audio_dir: Path, idle: bool, policy: str, nice: str
) -> None:
    from bot.audio.sandbox import DecoderLimits

    reporting = tmp_path / "reporting-ffmpeg"  # its "PCM" is how it was scheduled
    reporting.write_text("#!/bin/sh\nchrt -p $$\nps -o ni= -p $$\nhead -c 9000 /dev/zero\n")
    reporting.chmod(0o755)
    decoder = audio.Decoder(ffmpeg=str(reporting), limits=DecoderLimits(idle=idle))
    stream = await decoder.stream(audio_dir / "speech.ogg")
    said = b"".join([c async for c in stream.chunks()]).rstrip(b"\0").decode()
    assert policy in said
    assert said.split()[-1] == nice


@pytest.mark.parametrize("name", ["speech.ogg", "speech.webm", "speech.ts", "clip.mp4"])
async def test_a_file_still_arriving_is_decoded_from_its_first_bytes_to_the_same_pcm(
    audio_dir: Path, tmp_path: Path, name: str, decoder: audio.Decoder
) -> None:
    """Containers read front to back are decoded as they land (fed to the decoder's
    stdin): its first audio comes while the file's last byte has not, and the PCM is the
    quickstart's for the whole file, to the byte."""
    import hashlib

    source = audio_dir / name
    if name == "speech.ts":  # (so short a file with AAC would be read whole to find it)
        source = tmp_path / name
        af.ffmpeg("-i", str(audio_dir / "speech.wav"), "-c:a", "libmp3lame", str(source))
    if name.startswith("clip."):  # speech under a picture (MP4: its index first)
        source = tmp_path / name
        af.ffmpeg(
            "-f", "lavfi", "-i", "testsrc=s=160x120:d=7", "-i", str(audio_dir / "speech.wav"),
            "-shortest", "-c:v", "libx264", "-c:a", "aac", "-movflags", "+faststart",
            str(source),
        )  # fmt: skip
    growing = GrowingFile(source, tmp_path / "arriving")
    async with asyncio.timeout(20), decoder.decoding(growing, budget_s=3600) as stream:
        chunks = stream.chunks()
        first = await anext(chunks)  # the last byte has not landed
        growing.release()
        rest = [c async for c in chunks]
    quickstart = await af.quickstart_pcm(decoder.sandbox.ffmpeg, source)
    pcm = first + b"".join(rest)
    assert hashlib.sha256(pcm).hexdigest() == hashlib.sha256(quickstart).hexdigest()


async def test_a_file_that_cannot_stream_is_decoded_once_it_has_arrived(
    audio_dir: Path, tmp_path: Path, decoder: audio.Decoder
) -> None:
    """An MP4 whose index is at its end (speech.m4a) waits for its last byte, then is
    decoded from its path."""
    from bot.audio import containers

    growing = GrowingFile(audio_dir / "speech.m4a", tmp_path / "arriving")
    assert containers.streams(growing.path.read_bytes()[:65536]) is False
    entered_released: list[bool] = []

    async def decode() -> int:
        async with decoder.decoding(growing, budget_s=3600) as stream:
            entered_released.append(growing.released)
            return len(b"".join([c async for c in stream.chunks()]))

    async with asyncio.timeout(20), asyncio.TaskGroup() as group:
        decoding = group.create_task(decode())
        await growing.blocked.wait()  # the decoder waits for the rest
        growing.release()
    assert entered_released == [True] and decoding.result() > 16000 * 2 * 3


@pytest.fixture(scope="module")
def h264_mkv(tmp_path_factory: pytest.TempPathFactory, audio_dir: Path) -> Path:
    """Speech under a 2 Mbit/s H.264 picture, in Matroska: a picture the audio-only
    decoder cannot decode (ffprobe read 650 KB of such a file at its default probe
    size before it answered)."""
    target = tmp_path_factory.mktemp("h264") / "clip.mkv"
    af.ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=s=640x360:r=30:d=6", "-i", str(audio_dir / "speech.wav"),
        "-shortest", "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "2M",
        "-c:a", "aac", str(target),
    )  # fmt: skip
    return target


async def test_a_file_still_arriving_is_probed_from_its_first_256_kib(
    h264_mkv: Path, tmp_path: Path, decoder: audio.Decoder
) -> None:
    """Its streams and declared duration are in its header: the probe answers with only
    the first 256 KiB landed (it reads a bounded part; the rest never arrives here)."""
    size = h264_mkv.stat().st_size
    assert size > 1024 * 1024
    growing = GrowingFile(h264_mkv, tmp_path / "arriving", held=size - 256 * 1024)
    async with asyncio.timeout(20):
        found = await decoder.probe_growing(growing, duration=True)
    whole = await decoder.probe(h264_mkv)
    assert found.has_audio and not growing.released
    assert found.duration_s == whole.duration_s and whole.duration_s is not None


async def test_a_file_whose_beginning_shows_no_sound_is_probed_again_whole(
    tmp_path: Path, decoder: audio.Decoder
) -> None:
    """No sound in the bounded part read of a file still arriving is not the answer: it is
    probed again once whole (here: a picture alone, so no sound there either)."""
    silent = tmp_path / "silent.mkv"
    af.ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=s=640x360:d=3", "-c:v", "libx264", "-preset",
        "ultrafast", "-b:v", "4M", str(silent),
    )  # fmt: skip
    size = silent.stat().st_size
    assert size > 1024 * 1024
    growing = GrowingFile(silent, tmp_path / "arriving", held=size - 512 * 1024)
    async with asyncio.timeout(20), asyncio.TaskGroup() as group:
        probing = group.create_task(decoder.probe_growing(growing, duration=False))
        await growing.blocked.wait()  # the probe waits for the rest
        growing.release()
    assert not probing.result().has_audio
