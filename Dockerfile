# The bot's image: what `./dev run` sets up on a bare machine, in three stages. The audio
# decoder (ffmpeg and ffprobe, audio only) is built by decoder/build-ffmpeg.sh, the very
# script `./dev` uses, so the image and a bare-metal install decode alike; the package goes
# into a virtualenv; the runtime stage gets both and no compiler. Runs as a non-root user;
# the SQLite store lives in the /data volume; Docker asks `python -m bot healthcheck`.
# Build: docker build -t truebar-voice-bot .   Run: see README, "Deployment".
ARG BASE=python:3.11-slim-bookworm

FROM ${BASE} AS decoder
# The script names its build dependencies (a C compiler, make, nasm). Debian's builds for
# this release: pinning their exact versions would break the build at every update.
COPY decoder/build-ffmpeg.sh /src/decoder/build-ffmpeg.sh
# hadolint ignore=DL3008,SC2046
RUN apt-get update \
    && apt-get install -y --no-install-recommends $(/src/decoder/build-ffmpeg.sh --build-deps) \
    && rm -rf /var/lib/apt/lists/* \
    && /src/decoder/build-ffmpeg.sh /opt/decoder

FROM ${BASE} AS venv
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
# pip and setuptools are only needed to install: left out of the runtime image
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir . \
    && /opt/venv/bin/pip uninstall -y -q pip setuptools

FROM ${BASE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH
# the decoder goes first on PATH, beside the bot: `ffmpeg` and `ffprobe` are these
COPY --from=venv /opt/venv /opt/venv
COPY --from=decoder /opt/decoder/ffmpeg /opt/decoder/ffprobe /opt/venv/bin/

WORKDIR /app
RUN useradd --system --uid 10001 --gid 0 --home-dir /app --shell /usr/sbin/nologin bot \
    && mkdir -p /data \
    && chown bot:0 /data
USER 10001

# Defaults for a container; everything else comes from the environment (config/example.env).
# docker-compose.yml sets these again, over whatever .env says.
ENV BOT_DB_PATH=/data/bot.sqlite3 \
    BOT_OPS_LISTEN=0.0.0.0 \
    BOT_OPS_PORT=8080 \
    BOT_LOG_LEVEL=INFO \
    BOT_ENV_FILE=/nonexistent
VOLUME ["/data"]
# 8080: /healthz and /metrics; 8443: Telegram's webhook (webhook mode only).
EXPOSE 8080 8443

HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "-m", "bot", "healthcheck"]
# SIGTERM (docker stop) lets notes in progress finish for BOT_SHUTDOWN_GRACE seconds.
STOPSIGNAL SIGTERM
ENTRYPOINT ["python", "-m", "bot"]
CMD ["run"]
