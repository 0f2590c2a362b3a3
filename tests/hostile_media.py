"""Hostile media for the ffmpeg sandbox tests: each function writes one crafted file.

Nothing binary is committed: every file is made on the fly, in well under a second, by
writing or patching bytes in Python and, where that is simpler, with the system ffmpeg.
The bot saves each download as ``<temporary directory>/note`` (no extension), so ffmpeg
picks the demuxer from the bytes alone; the default names here do the same.

What the sandboxed decode must do with each file (measured with Debian bookworm's ffmpeg
5.1, see the notes on the ffmpeg sandbox): fail fast, within a small memory budget, or be
cut at the duration budget, and never decode :func:`local_secret_audio` (detect it in the
PCM sent to the speech service with :func:`contains_tone`).
"""

from __future__ import annotations

import math
import struct
import subprocess
import zlib
from array import array
from collections.abc import Mapping
from pathlib import Path

NOTE = "note"  # the name the bot gives every download
SECRET_TONE_HZ = 1337.0  # the tone of local_secret_audio(): rare in speech, easy to find
_PCM_RATE = 16000  # what the bot decodes to: 16 kHz mono s16le


def _ffmpeg(*args: str) -> None:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args], check=True
    )


# --- the local file a playlist points at ---------------------------------------------------


def local_secret_audio(directory: Path, seconds: float = 3.0, name: str = "secret.m4a") -> Path:
    """A local file of a pure :data:`SECRET_TONE_HZ` tone: what a hostile playlist reads.

    Stands for any media file on the bot's host (another user's note, a cached file). A test
    feeds a playlist pointing here and checks with :func:`contains_tone` that none of this
    audio reached the speech service. The codec follows the extension (ffmpeg's default
    for it); ``.m4a`` (AAC) is on both the HLS and the DASH demuxers' lists of extensions
    allowed for local segments, so neither attack is stopped by accident.
    """
    path = directory / name
    source = f"sine=frequency={SECRET_TONE_HZ}:sample_rate=44100:duration={seconds}"
    _ffmpeg("-f", "lavfi", "-i", source, "-b:a", "64k", str(path))
    return path


def contains_tone(
    pcm: bytes, hz: float = SECRET_TONE_HZ, rate: int = _PCM_RATE, window_s: float = 0.25
) -> bool:
    """Whether 16-bit mono PCM holds a clear ``hz`` tone in any window (Goertzel).

    True when, in some window with audible energy, more than half of the energy is at
    ``hz``: a pure tone scores about 1, speech and silence about 0.
    """
    samples = array("h")
    samples.frombytes(pcm[: len(pcm) // 2 * 2])
    n = max(int(rate * window_s), 1)
    coefficient = 2 * math.cos(2 * math.pi * hz / rate)
    for start in range(0, len(samples) - n + 1, n):
        s1 = s2 = energy = 0.0
        for x in samples[start : start + n]:
            s1, s2 = x + coefficient * s1 - s2, s1
            energy += x * x
        if energy < n * 100.0**2:  # quieter than -50 dBFS: nothing to judge
            continue
        power = s1 * s1 + s2 * s2 - coefficient * s1 * s2  # |X(hz)|^2
        if 2 * power / (n * energy) > 0.5:
            return True
    return False


# --- memory bombs ---------------------------------------------------------------------------

_MP4_CONTAINERS = frozenset({b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf"})


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def _boxes(data: bytes) -> list[tuple[bytes, bytes]]:
    """The boxes of ``data`` as (type, payload); 32-bit sizes only, as ffmpeg writes them."""
    found: list[tuple[bytes, bytes]] = []
    offset = 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack_from(">I4s", data, offset)
        if size < 8 or offset + size > len(data):
            raise ValueError(f"unexpected MP4 box {kind!r} of size {size}")
        found.append((kind, data[offset + 8 : offset + size]))
        offset += size
    return found


def _find_box(data: bytes, kind: bytes) -> bytes:
    """The payload of the first ``kind`` box, searched depth first."""
    for found, payload in _boxes(data):
        if found == kind:
            return payload
        if found in _MP4_CONTAINERS:
            try:
                return _find_box(payload, kind)
            except KeyError:
                pass
    raise KeyError(kind)


def _rewrite_boxes(data: bytes, replace: Mapping[bytes, bytes | None]) -> bytes:
    """``data`` with the payload of every box named in ``replace`` swapped (None drops it)."""
    out = bytearray()
    for kind, payload in _boxes(data):
        if kind in replace:
            new = replace[kind]
            if new is not None:
                out += _box(kind, new)
        elif kind in _MP4_CONTAINERS:
            out += _box(kind, _rewrite_boxes(payload, replace))
        else:
            out += _box(kind, payload)
    return bytes(out)


def _full_box(*fields: int) -> bytes:
    """A full box payload: version 0, no flags, then 32-bit fields."""
    return struct.pack(f">I{len(fields)}I", 0, *fields)


def _with_duration(payload: bytes, duration: int, v0_offset: int) -> bytes:
    """A mvhd/tkhd/mdhd payload with its duration field set (``v0_offset``: in version 0)."""
    if payload[0] == 0:
        return payload[:v0_offset] + struct.pack(">I", duration) + payload[v0_offset + 4 :]
    offset = v0_offset + 12  # version 1: 64-bit times and duration
    return payload[:offset] + struct.pack(">Q", duration) + payload[offset + 8 :]


def _timescale(payload: bytes) -> int:
    """The timescale of a mvhd or mdhd payload."""
    offset = 12 if payload[0] == 0 else 20
    return int(struct.unpack_from(">I", payload, offset)[0])


def _layout(moov: bytes, mdat: bytes, chunk_offsets: list[int] | None = None) -> bytes:
    """ftyp, mdat, moov; ``chunk_offsets`` are relative to the mdat payload (default: [0])."""
    ftyp = _box(b"ftyp", b"isom" + struct.pack(">I", 512) + b"isomiso2mp41")
    start = len(ftyp) + 8
    offsets = [start + o for o in (chunk_offsets or [0])]
    moov = _rewrite_boxes(moov, {b"stco": _full_box(len(offsets), *offsets)})
    return ftyp + _box(b"mdat", mdat) + _box(b"moov", moov)


def sample_table_bomb_mp4(directory: Path, samples: int = 89_000_000, name: str = NOTE) -> Path:
    """A ~1 KB M4A whose sample table declares ``samples`` AAC frames (default 89 million).

    stts/stsc/stsz cost a few bytes each whatever the count (one run of equal durations, one
    chunk, one constant size), but ffmpeg's mov demuxer builds its index with one 24-byte
    entry per sample: one ~2.1 GB allocation, then a loop over 89 million entries, before
    the first packet is read. ffprobe pays the same. Expected in the sandbox: the index
    allocation is refused (``-max_alloc`` or RLIMIT_AS), ffmpeg exits 0 at once with no PCM
    (an empty note to the bot), ~55 MB RSS instead of ~2.1 GB.
    """
    source = directory / f".{name}-source.m4a"
    _ffmpeg(
        "-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", "0.3",
        "-c:a", "aac", "-b:a", "16k", str(source),
    )  # fmt: skip
    boxes = dict(_boxes(source.read_bytes()))
    source.unlink()
    moov = _rewrite_boxes(
        boxes[b"moov"],
        {
            b"stts": _full_box(1, samples, 1024),  # one run: every frame lasts 1024 ticks
            b"stsc": _full_box(1, 1, samples, 1),  # every sample in chunk 1
            b"stsz": _full_box(8, samples),  # all of them 8 bytes (no size table)
            b"edts": None,
            b"sgpd": None,
            b"sbgp": None,
            b"udta": None,
        },
    )
    path = directory / name
    path.write_bytes(_layout(moov, boxes[b"mdat"]))
    return path


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _zlib_zeros(size: int, block: int = 1 << 20) -> bytes:
    """A zlib stream of ``size`` zero bytes, made without compressing all of them.

    After a full flush deflate starts afresh, so the compressed form of each further block
    of zeros is the same bytes: compress two blocks and the rest, repeat the second, and
    write the Adler-32 of ``size`` zeros (a = 1, b = size mod 65521) by hand.
    """
    whole, rest = divmod(size, block)
    compressor = zlib.compressobj(9)
    parts = [b""]
    if whole:
        first = compressor.compress(bytes(block)) + compressor.flush(zlib.Z_FULL_FLUSH)
        again = compressor.compress(bytes(block)) + compressor.flush(zlib.Z_FULL_FLUSH)
        parts = [first] + [again] * (whole - 1)
    tail = compressor.compress(bytes(rest)) + compressor.flush(zlib.Z_FINISH)
    if not whole:
        return tail
    adler = ((size % 65521) << 16) | 1
    return b"".join(parts) + tail[:-4] + struct.pack(">I", adler)


def huge_png_bytes(width: int = 16000, height: int = 16000) -> bytes:
    """A valid RGBA PNG of ``width``×``height`` black pixels, about 1 MB at 16000×16000."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    raw_size = height * (1 + 4 * width)  # each row: filter type 0, then zero pixels
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", _zlib_zeros(raw_size))
        + _png_chunk(b"IEND", b"")
    )


def huge_png(directory: Path, width: int = 16000, height: int = 16000, name: str = NOTE) -> Path:
    """A ~1 MB PNG declaring 16000×16000 RGBA, sent as a "voice note" (image bomb).

    ffmpeg's png_pipe demuxer takes it from its first bytes; finding the stream's
    parameters decodes the picture into a 1 GB frame (16000·16000·4 bytes), and the rows
    inflate for seconds. ffprobe does the same. Expected in the sandbox: refused by the
    format whitelist (png_pipe is not on it) before anything is decoded.
    """
    path = directory / name
    path.write_bytes(huge_png_bytes(width, height))
    return path


def png_in_mp4(directory: Path, width: int = 16000, height: int = 16000, name: str = NOTE) -> Path:
    """An MP4 "video note" whose only video frame is :func:`huge_png_bytes` (image bomb).

    The container is ``mov``, which the format whitelist must allow, so only a per
    allocation cap (``-max_alloc``), a decoder whitelist or an address-space limit stops the
    1 GB frame that finding the stream parameters decodes. Expected in the sandbox: fails
    fast with a small peak RSS.
    """
    source = directory / f".{name}-source.mp4"
    _ffmpeg(
        "-f", "lavfi", "-i", "color=c=black:s=16x16:d=0.04", "-frames:v", "1",
        "-c:v", "png", str(source),
    )  # fmt: skip
    boxes = dict(_boxes(source.read_bytes()))
    source.unlink()
    stsd = bytearray(_find_box(boxes[b"moov"], b"stsd"))
    # stsd: version/flags, entry count, then the 'png ' VisualSampleEntry: size, type, six
    # reserved bytes, data reference index, 16 bytes pre-defined/reserved, width, height.
    struct.pack_into(">HH", stsd, 8 + 8 + 8 + 16, width, height)
    picture = huge_png_bytes(width, height)
    moov = _rewrite_boxes(
        boxes[b"moov"],
        {
            b"stsd": bytes(stsd),
            b"stsz": _full_box(0, 1, len(picture)),
            b"edts": None,
            b"udta": None,
        },
    )
    path = directory / name
    path.write_bytes(_layout(moov, picture))
    return path


def _syncsafe(n: int) -> bytes:
    return bytes((n >> shift) & 0x7F for shift in (21, 14, 7, 0))


def mp3_huge_cover_art(
    directory: Path, width: int = 16000, height: int = 16000, name: str = NOTE
) -> Path:
    """A valid 1 s MP3 whose ID3v2 cover art (APIC) is :func:`huge_png_bytes` (image bomb).

    ``mp3`` must be on the format whitelist, and the demuxer turns the picture into an
    attached-picture video stream that finding the stream parameters decodes (1 GB at
    16000×16000) although ``-vn`` never uses it. The same works with FLAC PICTURE blocks
    and Ogg METADATA_BLOCK_PICTURE comments. Expected in the sandbox: the picture's
    allocation is refused by ``-max_alloc``; the 1 s of audio still decodes (an error line
    from the png decoder on stderr, exit status 0).
    """
    source = directory / f".{name}-source.mp3"
    _ffmpeg(
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000:duration=1",
        "-c:a", "libmp3lame", "-b:a", "32k", "-write_xing", "0", "-id3v2_version", "0",
        str(source),
    )  # fmt: skip
    audio = source.read_bytes()
    source.unlink()
    body = b"\x00image/png\x00\x03\x00" + huge_png_bytes(width, height)  # latin-1, front cover
    frame = b"APIC" + struct.pack(">I", len(body)) + b"\x00\x00" + body
    tag = b"ID3\x03\x00\x00" + _syncsafe(len(frame)) + frame
    path = directory / name
    path.write_bytes(tag + audio)
    return path


def _vint(value: int) -> bytes:
    """An 8-byte EBML variable-size integer (0x01 marker, then 56 bits)."""
    return bytes([1]) + value.to_bytes(7, "big")


def _ebml(element_id: int, payload: bytes, size: int | None = None) -> bytes:
    identifier = element_id.to_bytes((element_id.bit_length() + 7) // 8, "big")
    return identifier + _vint(len(payload) if size is None else size) + payload


def huge_ebml_matroska(directory: Path, declared: int = 0x0FFF_FFF0, name: str = NOTE) -> Path:
    """A tiny Matroska whose Opus track's CodecPrivate declares ``declared`` bytes (~256 MB).

    matroskadec allocates a binary element whole before reading it (its own cap is
    256 MB per element), so a few hundred bytes cost two 256 MB allocations; nested
    masters (Tracks, TrackEntry) declare sizes to match. The memory is never touched (low
    RSS) but counts against RLIMIT_AS. Expected with or without the sandbox: an error, no
    PCM; in the sandbox the allocation itself is refused.
    """
    unsigned = {0x4286: 1, 0x42F7: 1, 0x42F2: 4, 0x42F3: 8, 0x4287: 4, 0x4285: 2}
    header = b"".join(_ebml(i, bytes([v])) for i, v in unsigned.items())
    header += _ebml(0x4282, b"matroska")
    info = _ebml(0x1549A966, _ebml(0x2AD7B1, (1_000_000).to_bytes(3, "big")))
    audio = _ebml(0xE1, _ebml(0xB5, struct.pack(">d", 48000.0)) + _ebml(0x9F, b"\x01"))
    entry_head = (
        _ebml(0xD7, b"\x01")  # TrackNumber
        + _ebml(0x73C5, b"\x01")  # TrackUID
        + _ebml(0x83, b"\x02")  # TrackType: audio
        + _ebml(0x86, b"A_OPUS")  # CodecID
        + audio
    )
    private = bytes.fromhex("63A2") + _vint(declared) + b"OpusHead\x01\x01"
    entry_size = len(entry_head) + 2 + 8 + declared
    entry = bytes([0xAE]) + _vint(entry_size) + entry_head + private
    tracks = bytes.fromhex("1654AE6B") + _vint(1 + 8 + entry_size) + entry
    segment = bytes.fromhex("18538067") + bytes.fromhex("01FFFFFFFFFFFFFF")  # unknown size
    path = directory / name
    path.write_bytes(_ebml(0x1A45DFA3, header) + segment + info + tracks)
    return path


# --- playlists that make ffmpeg read local files --------------------------------------------


def _file_url(target: Path) -> str:
    return target.resolve().as_uri()


def hls_playlist(directory: Path, target: Path, name: str = NOTE) -> Path:
    """An HLS playlist (``#EXTM3U``) whose one segment is ``file://`` + ``target``.

    Sent as a voice note, its bytes make ffmpeg pick the hls demuxer, which opens the local
    ``target`` through the ``file`` protocol (allowed: the note itself is a file) and
    decodes it as if it were the user's audio. Expected in the sandbox: refused by the
    format whitelist ("Format not on whitelist"), no PCM, ``target`` never opened.
    """
    return hls_url_playlist(directory, _file_url(target), name)


def hls_url_playlist(directory: Path, url: str, name: str = NOTE, key_uri: str = "") -> Path:
    """An HLS playlist with one segment at ``url``, optionally AES-128 with key ``key_uri``.

    For the protocol tricks of :func:`protocol_urls` (``subfile:``, ``concat:``,
    ``data:``, ``crypto+file:``) and for ``#EXT-X-KEY`` reading a local file as its key.
    Debian's 5.1.9 hls demuxer already refuses these segment URLs itself, but opens a local
    ``key_uri``. Expected in the sandbox: refused by the format whitelist before either.
    """
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:10", "#EXT-X-MEDIA-SEQUENCE:0"]
    if key_uri:
        lines.append(f'#EXT-X-KEY:METHOD=AES-128,URI="{key_uri}",IV=0x{"00" * 16}')
    lines += ["#EXTINF:10.0,", url, "#EXT-X-ENDLIST", ""]
    path = directory / name
    path.write_text("\n".join(lines))
    return path


def protocol_urls(target: Path) -> dict[str, str]:
    """URLs that reach ``target`` through protocols other than plain ``file:``."""
    absolute = str(target.resolve())
    tiny_mp3 = "data:audio/mpeg;base64,//MUxAAAAANIAAAAAExBTUUzLjEwMFVVVVVVVVVVVVVV"
    return {
        "subfile": f"subfile,,start,0,end,0,,:{absolute}",
        "concat": f"concat:{absolute}|{absolute}",
        "crypto": f"crypto+file://{absolute}",
        "data": tiny_mp3,
    }


def dash_manifest(directory: Path, target: Path, name: str = NOTE) -> Path:
    """A DASH manifest (MPD) whose one representation's BaseURL is ``file://`` + ``target``.

    ffmpeg's dash demuxer (built with libxml2 in Debian) takes it from its bytes and
    decodes the local ``target`` as the user's audio. Expected in the sandbox: refused by
    the format whitelist, no PCM.
    """
    manifest = f"""<?xml version="1.0" encoding="utf-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" minBufferTime="PT1S"
     mediaPresentationDuration="PT3S" profiles="urn:mpeg:dash:profile:isoff-on-demand:2011">
  <Period id="0" start="PT0S">
    <AdaptationSet mimeType="audio/mpeg" contentType="audio">
      <Representation id="0" bandwidth="64000" codecs="mp3" audioSamplingRate="44100">
        <BaseURL>{_file_url(target)}</BaseURL>
      </Representation>
    </AdaptationSet>
  </Period>
</MPD>
"""
    path = directory / name
    path.write_text(manifest)
    return path


def ffconcat_playlist(directory: Path, target: Path, name: str = NOTE) -> Path:
    """An ffconcat script (``ffconcat version 1.0`` / ``file '...'``) listing ``target``.

    The path is relative when ``target`` is inside ``directory`` (which the concat
    demuxer's default ``safe=1`` accepts: another download in the same folder), absolute
    otherwise (which ``safe=1`` refuses). Expected in the sandbox: refused by the format
    whitelist either way.
    """
    try:
        entry = str(target.resolve().relative_to(directory.resolve()))
    except ValueError:
        entry = str(target.resolve())
    path = directory / name
    path.write_text(f"ffconcat version 1.0\nfile '{entry}'\nfile '{entry}'\n")
    return path


def self_including_concat(directory: Path, name: str = NOTE) -> Path:
    """An ffconcat script that lists itself (by its own relative name, which ``safe=1`` allows).

    The concat demuxer opens the listed file while opening itself: unbounded recursion of
    demuxers, each holding a file descriptor, buffers and C stack, until descriptors or
    memory run out. Expected in the sandbox: refused by the format whitelist.
    """
    path = directory / name
    path.write_text(f"ffconcat version 1.0\nfile '{name}'\nfile '{name}'\n")
    return path


# --- duration lies --------------------------------------------------------------------------


def _crc_table(bits: int, poly: int) -> list[int]:
    top, mask = 1 << (bits - 1), (1 << bits) - 1
    table = []
    for byte in range(256):
        crc = byte << (bits - 8)
        for _ in range(8):
            crc = ((crc << 1) ^ poly) & mask if crc & top else (crc << 1) & mask
        table.append(crc)
    return table


_CRC8 = _crc_table(8, 0x07)
_CRC16 = _crc_table(16, 0x8005)
_FLAC_RATE_CODES = {8000: 4, 16000: 5, 22050: 6, 24000: 7, 32000: 8, 44100: 9, 48000: 10}
_FLAC_MAX_BLOCK = 65535


def _crc8(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc = _CRC8[crc ^ byte]
    return crc


def _crc16(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ _CRC16[(crc >> 8) ^ byte]
    return crc


def _utf8_number(n: int) -> bytes:
    """FLAC's UTF-8-like coding of a frame number (up to 31 bits)."""
    if n < 0x80:
        return bytes([n])
    length = 2
    while n >= 1 << (5 * length + 1):
        length += 1
    first = ((0xFF00 >> length) & 0xFF) | (n >> (6 * (length - 1)))
    rest = [0x80 | ((n >> (6 * i)) & 0x3F) for i in range(length - 2, -1, -1)]
    return bytes([first, *rest])


def _flac_frame(number: int, block: int, rate: int, level: int) -> bytes:
    """One mono 16-bit FLAC frame of ``block`` samples, all ``level`` (a CONSTANT subframe)."""
    header = bytearray(b"\xff\xf8")  # sync, fixed block size
    header.append(0x70 | _FLAC_RATE_CODES[rate])  # block size: 16 bits at the end
    header.append(0x08)  # mono, 16 bits per sample
    header += _utf8_number(number) + struct.pack(">H", block - 1)
    header.append(_crc8(bytes(header)))
    frame = bytes(header) + b"\x00" + struct.pack(">h", level)  # subframe: CONSTANT
    return frame + struct.pack(">H", _crc16(frame))


def _flac_stream(total: int, rate: int, level: int, header_samples: int) -> bytes:
    info = struct.pack(">HH", _FLAC_MAX_BLOCK, _FLAC_MAX_BLOCK) + bytes(6)  # frame sizes: unknown
    packed = (rate << 44) | (0 << 41) | (15 << 36) | header_samples  # mono, 16 bits
    info += packed.to_bytes(8, "big") + bytes(16)  # no MD5
    parts = [b"fLaC", b"\x80\x00\x00\x22" + info]  # the last metadata block: STREAMINFO
    frames, last = divmod(total, _FLAC_MAX_BLOCK)
    parts += [_flac_frame(i, _FLAC_MAX_BLOCK, rate, level) for i in range(frames)]
    if last:
        parts.append(_flac_frame(frames, last, rate, level))
    return b"".join(parts)


def duration_liar_flac(
    directory: Path,
    hours: float = 3.0,
    *,
    header_seconds: float | None = None,
    rate: int = 16000,
    level: int = 0,
    name: str = NOTE,
) -> Path:
    """A ~37 KB FLAC that decodes to ``hours`` of constant ``level`` (default silence).

    Every 65535-sample frame is a CONSTANT subframe of 13-15 bytes, so three hours at
    16 kHz fit in ~2600 frames. Sent with a declared (Telegram) duration of 1 s it passes
    a duration pre-check, then streams hours of PCM. With ``header_seconds`` the
    STREAMINFO lies too (ffprobe then reports that duration). Expected in the sandbox:
    decoding stops at the duration budget (the reader's byte cap and/or ``-t``), not after
    345 MB of PCM.
    """
    total = round(hours * 3600 * rate)
    declared = total if header_seconds is None else round(header_seconds * rate)
    path = directory / name
    path.write_bytes(_flac_stream(total, rate, level, declared))
    return path


def rate_switching_flac(
    directory: Path, hours: float = 3.0, rates: tuple[int, int] = (16000, 8000), name: str = NOTE
) -> Path:
    """A ~25 KB FLAC of ``hours`` of silence whose frames alternate between two sample rates.

    Each change of sample rate makes the ffmpeg 5.1 CLI rebuild its filter graph, which
    resets every counter in it: ``-af asetpts=N/SR/TB`` (timestamps from sample counts)
    and ``atrim=end_sample=`` start again from zero and never reach the budget; the
    timestamps stay honest, so a plain output ``-t`` still works. Expected in the sandbox:
    stopped by the output ``-t`` or ``-fs`` and, whatever ffmpeg does, by the reader's byte
    count.
    """
    info = struct.pack(">HH", _FLAC_MAX_BLOCK, _FLAC_MAX_BLOCK) + bytes(6)
    info += ((rates[0] << 44) | (15 << 36)).to_bytes(8, "big") + bytes(16)  # length unknown
    parts = [b"fLaC", b"\x80\x00\x00\x22" + info]
    seconds, number = 0.0, 0
    while seconds < hours * 3600:
        rate = rates[number % 2]
        parts.append(_flac_frame(number, _FLAC_MAX_BLOCK, rate, 0))
        seconds += _FLAC_MAX_BLOCK / rate
        number += 1
    path = directory / name
    path.write_bytes(b"".join(parts))
    return path


def duration_liar_mp4(
    directory: Path, hours: float = 3.0, claimed_seconds: float = 1.0, name: str = NOTE
) -> Path:
    """An MP4 of ``hours`` of FLAC silence whose headers and timestamps claim 1 s.

    The samples are :func:`duration_liar_flac`'s frames; mvhd, tkhd, mdhd and the stts
    sample durations all say ``claimed_seconds``, so ffprobe (and anything reading the
    container or the packet timestamps) believes 1 s while the decoder outputs every
    frame in full. Expected in the sandbox: stopped by counting PCM bytes; a
    timestamp-based ``-t`` is fooled.
    """
    source = directory / f".{name}-source.flac"
    muxed = directory / f".{name}-source.mp4"
    duration_liar_flac(directory, hours, rate=16000, name=source.name)
    _ffmpeg("-i", str(source), "-c", "copy", "-strict", "-2", str(muxed))
    listed = _boxes(muxed.read_bytes())
    source.unlink()
    muxed.unlink()
    boxes = dict(listed)
    moov = boxes[b"moov"]
    stts = _find_box(moov, b"stts")
    samples = sum(
        struct.unpack_from(">I", stts, 8 + 8 * i)[0]
        for i in range(struct.unpack_from(">I", stts, 4)[0])
    )
    mvhd, mdhd = _find_box(moov, b"mvhd"), _find_box(moov, b"mdhd")
    movie = round(claimed_seconds * _timescale(mvhd))
    media = round(claimed_seconds * _timescale(mdhd))
    moov = _rewrite_boxes(
        moov,
        {
            b"mvhd": _with_duration(mvhd, movie, 16),
            b"tkhd": _with_duration(_find_box(moov, b"tkhd"), movie, 20),
            b"mdhd": _with_duration(mdhd, media, 16),
            b"stts": _full_box(1, samples, max(media // samples, 1)),
            b"edts": None,
            b"udta": None,
        },
    )
    stco = _find_box(moov, b"stco")
    first = struct.unpack_from(">I", stco, 8)[0]
    offsets = [
        struct.unpack_from(">I", stco, 8 + 4 * i)[0] - first
        for i in range(struct.unpack_from(">I", stco, 4)[0])
    ]
    mdat = boxes[b"mdat"]
    path = directory / name
    path.write_bytes(_layout(moov, mdat[first - _mdat_start(listed) :], offsets))
    return path


def _mdat_start(boxes: list[tuple[bytes, bytes]]) -> int:
    """Where the mdat payload starts in a file of these top-level boxes."""
    start = 0
    for kind, payload in boxes:
        start += 8
        if kind == b"mdat":
            return start
        start += len(payload)
    raise KeyError(b"mdat")
