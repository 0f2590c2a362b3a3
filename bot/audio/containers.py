"""Whether a file can be decoded from its beginning while the rest still downloads.

Decoding from a pipe must give the PCM decoding the whole file gives, to the byte
(tests/test_audio.py): ffmpeg's demuxer then cannot seek. That holds for containers read
front to back (measured with ffmpeg 5.1):

- OGG (voice notes), Matroska and WebM, MPEG-TS: their headers come first, then packets;
- MP4/MOV whose index (``moov``) comes before its media data (``mdat``, "faststart");
- MP3 without a Xing/Info/VBRI header in its first frame.

Not the others: an MP4 whose ``moov`` is at its end cannot be read before it arrives; an
MP3 with a LAME/Info header lost its encoder padding trim from a pipe (624 bytes more PCM
for a 5 s note: ffmpeg applies the trim only where it can seek); anything unknown waits
for the whole file, as it always did.
"""

from __future__ import annotations

import struct

HEAD_LIMIT = 64 * 1024
"""The most of a file's beginning looked at to decide; an MP4 that needs more (its first
boxes larger than this) waits for the whole file."""

_MP4_SKIPPED = frozenset({b"ftyp", b"free", b"skip", b"wide", b"uuid", b"pdin", b"styp", b"junk"})
_MP3_TAGS = (b"Xing", b"Info", b"VBRI")


def streams(head: bytes, *, complete: bool = False) -> bool | None:
    """Whether a file starting with ``head`` decodes the same from a pipe as from its
    path; None: more of its beginning is needed to say (unless ``complete``: then no)."""
    verdict = _verdict(head)
    if verdict is None and (complete or len(head) >= HEAD_LIMIT):
        return False
    return verdict


def _verdict(head: bytes) -> bool | None:
    if len(head) < 4:
        return None
    if head.startswith(b"OggS") or head.startswith(b"\x1a\x45\xdf\xa3"):
        return True
    if head[0] == 0x47:  # MPEG-TS: a sync byte every 188 bytes
        if len(head) < 3 * 188 + 1:
            return None
        return head[188] == 0x47 and head[376] == 0x47
    if head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"):
        return _moov_first(head)
    if head.startswith(b"ID3") or _mpeg_audio_sync(head, 0):
        return _plain_mp3(head)
    return False


def _moov_first(head: bytes) -> bool | None:
    """Walk the top-level boxes: ``moov`` before ``mdat`` streams."""
    offset = 0
    while True:
        if len(head) < offset + 8:
            return None
        size, kind = struct.unpack_from(">I4s", head, offset)
        if kind == b"moov":
            return True
        if kind == b"mdat" or kind not in _MP4_SKIPPED:
            return False
        if size == 1:  # a 64-bit size follows the type
            if len(head) < offset + 16:
                return None
            (size,) = struct.unpack_from(">Q", head, offset + 8)
        if size < 8:  # 0: the box runs to the end of the file
            return False
        offset += size


def _plain_mp3(head: bytes) -> bool | None:
    """An MP3 (after its ID3v2 tag) whose first frame is no Xing/Info/VBRI header."""
    start = 0
    if head.startswith(b"ID3"):
        if len(head) < 10:
            return None
        b = head[6:10]
        start = 10 + (b[0] << 21 | b[1] << 14 | b[2] << 7 | b[3]) + (10 if head[5] & 0x10 else 0)
    if len(head) < start + 4:
        return None
    if not _mpeg_audio_sync(head, start):
        return False  # AAC, FLAC or anything else behind an ID3 tag
    frame = head[start : start + 200]  # the tags sit within the first frame's first bytes
    if len(frame) < 200:
        return None
    return not any(tag in frame for tag in _MP3_TAGS)


def _mpeg_audio_sync(head: bytes, at: int) -> bool:
    """An MPEG audio layer III frame header at ``at`` (not ADTS AAC, whose layer is 0)."""
    return (len(head) >= at + 2 and head[at] == 0xFF and head[at + 1] & 0xE0 == 0xE0) and head[
        at + 1
    ] & 0x06 == 0x02
