"""Untrusted media → what Truebar wants: 16 kHz mono s16le PCM (:mod:`bot.audio.pcm`).

:class:`Decoder` is the bot's way: a sandboxed ffmpeg per file (see
:mod:`bot.audio.sandbox`), read as it decodes, cut at a duration budget.
:mod:`bot.audio.reference` is pydub's whole-file way, for trusted files and the
benchmark's reference.
"""

from bot.audio.budget import duration_budget
from bot.audio.errors import AudioError, AudioTooLong, EmptyAudio, UndecodableAudio
from bot.audio.pcm import BYTES_PER_MS, CHUNK_BYTES, SAMPLE_RATE, SAMPLE_WIDTH
from bot.audio.reference import PcmAudio, decode, decode_file, pcm_chunks
from bot.audio.sandbox import ChildExit, DecoderLimits, DecoderMissing
from bot.audio.stream import Decoder, PcmStream, Probe

__all__ = [
    "BYTES_PER_MS",
    "CHUNK_BYTES",
    "SAMPLE_RATE",
    "SAMPLE_WIDTH",
    "AudioError",
    "AudioTooLong",
    "ChildExit",
    "Decoder",
    "DecoderLimits",
    "DecoderMissing",
    "EmptyAudio",
    "PcmAudio",
    "PcmStream",
    "Probe",
    "UndecodableAudio",
    "decode",
    "decode_file",
    "duration_budget",
    "pcm_chunks",
]
