#!/usr/bin/env bash
# The bot's audio decoder: ffmpeg and ffprobe built from Debian's source of FFmpeg with
# only what voice notes need (audio demuxers, decoders and parsers, the resampler, PCM
# out; no video decoders, no network protocols, no external libraries). One script for
# both places it is used, so they run the same decoder:
#
#   decoder/build-ffmpeg.sh .venv/bin     # ./dev run / ./dev test (once; then cached)
#   decoder/build-ffmpeg.sh /opt/decoder  # the Dockerfile's build stage
#
# Needs gcc, make and nasm (the Debian packages listed by --build-deps) and python3. The
# binaries land in DIR with a stamp naming this script's hash: they are rebuilt only when
# this script changes. `DIR/ffmpeg -version` names the build ("-voicebot-<hash>").
set -euo pipefail

# Debian bookworm's FFmpeg (the orig tarball of 7:5.1.9-0+deb12u1), checked by its SHA-256
# from Debian's Sources index. When Debian replaces it, take the new one from
#   http://deb.debian.org/debian-security/dists/bookworm-security/main/source/Sources.xz
VERSION=5.1.9
SHA256=d9b593bb2ba93d4b50f74177e0cdcd41747e708596367deed0c30348a71dd176
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org}"
SOURCES=(
    "$MIRROR/debian/pool/main/f/ffmpeg/ffmpeg_$VERSION.orig.tar.xz"
    "$MIRROR/debian-security/pool/updates/main/f/ffmpeg/ffmpeg_$VERSION.orig.tar.xz"
)
BUILD_DEPS=(gcc make nasm libc6-dev)

# What the bot's sandboxed decoder may open (its -format_whitelist: webm is matroska's)...
DEMUXERS=ogg,mp3,mov,matroska,wav,w64,flac,aac,amr,aiff,caf,asf,ac3,mpegts,au,wv
# ...and the audio codecs found in them (Sun AU's are PCM, mu-law and A-law, below).
DECODERS=opus,vorbis,flac,alac,mp1,mp1float,mp2,mp2float,mp3,mp3float,aac,aac_latm
DECODERS+=,amrnb,amrwb,wmav1,wmav2,wmapro,wmalossless,wmavoice,ac3,eac3,wavpack
DECODERS+=,pcm_u8,pcm_s8,pcm_s16le,pcm_s16be,pcm_s24le,pcm_s24be,pcm_s32le,pcm_s32be
DECODERS+=,pcm_f32le,pcm_f32be,pcm_f64le,pcm_f64be,pcm_alaw,pcm_mulaw
DECODERS+=,adpcm_ms,adpcm_ima_wav,adpcm_ima_qt,gsm,gsm_ms
PARSERS=opus,vorbis,flac,mpegaudio,aac,aac_latm,ac3,amr,gsm
CONFIGURE=(
    --disable-everything --disable-autodetect --disable-network
    --disable-doc --disable-debug --disable-ffplay
    --disable-avdevice --disable-swscale --disable-postproc
    --enable-ffmpeg --enable-ffprobe --enable-static --disable-shared
    --toolchain=hardened
    --enable-protocol=file,pipe
    --enable-demuxer="$DEMUXERS"
    --enable-decoder="$DECODERS"
    --enable-parser="$PARSERS"
    --enable-filter=aresample,aformat,anull,atrim
    --enable-encoder=pcm_s16le --enable-muxer=pcm_s16le
)

if [ "${1:-}" = --build-deps ]; then
    echo "${BUILD_DEPS[*]}"
    exit 0
fi
[ $# -eq 1 ] || { echo "usage: $0 DIR | --build-deps" >&2; exit 2; }
mkdir -p "$1"
DEST="$(cd "$1" && pwd)"
HASH="$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-12)"
STAMP="$DEST/.ffmpeg-decoder-$HASH"
if [ -f "$STAMP" ] && [ -x "$DEST/ffmpeg" ] && [ -x "$DEST/ffprobe" ]; then
    exit 0
fi

for tool in gcc make nasm python3; do
    command -v "$tool" >/dev/null || { echo "decoder: $tool is missing" >&2; exit 1; }
done
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
echo "decoder: building ffmpeg $VERSION (audio only) into $DEST; takes a few minutes once" >&2
started=$SECONDS
# python3 fetches, checks and unpacks: curl and xz-utils need not be installed.
python3 - "$WORK" "$SHA256" "${SOURCES[@]}" <<'PY'
import hashlib, sys, tarfile, urllib.request

work, sha256, urls = sys.argv[1], sys.argv[2], sys.argv[3:]
for url in urls:
    try:
        with urllib.request.urlopen(url, timeout=60) as answer:
            data = answer.read()
    except OSError as exc:
        print(f"decoder: {url}: {exc}", file=sys.stderr)
        continue
    if hashlib.sha256(data).hexdigest() != sha256:
        sys.exit(f"decoder: {url} does not have the expected SHA-256")
    with open(f"{work}/src.tar.xz", "wb") as out:
        out.write(data)
    with tarfile.open(f"{work}/src.tar.xz") as tar:
        tar.extractall(work, filter="data") if hasattr(tarfile, "data_filter") else tar.extractall(work)
    sys.exit(0)
sys.exit("decoder: the FFmpeg source is not on Debian's mirror any more: update VERSION and SHA256")
PY
cd "$WORK/ffmpeg-$VERSION"
./configure --prefix="$WORK/out" --extra-version="voicebot-$HASH" "${CONFIGURE[@]}" \
    >"$WORK/configure.log" 2>&1 || { tail -30 "$WORK/configure.log" >&2; exit 1; }
make -j"$(nproc)" >"$WORK/make.log" 2>&1 || { tail -30 "$WORK/make.log" >&2; exit 1; }
strip ffmpeg ffprobe
rm -f "$DEST"/.ffmpeg-decoder-*
install -m 0755 ffmpeg ffprobe "$DEST/"
touch "$STAMP"
echo "decoder: built in $((SECONDS - started)) s: $("$DEST/ffmpeg" -version | head -1)" >&2
