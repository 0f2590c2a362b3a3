# The bot's image. Its steps mirror `./dev run` on a Debian machine: Debian's ffmpeg, a
# virtualenv, the package from pyproject.toml. Runs as a non-root user; the SQLite store
# lives in the /data volume; Docker asks `python -m bot healthcheck` (GET /healthz).
# Build: docker build -t truebar-voice-bot .   Run: see README, "Deployment".
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

# ffmpeg decodes every voice note (pydub drives it). Debian's build for this release:
# pinning its exact version would break the build at every security update.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN python -m venv "$VIRTUAL_ENV" \
    && pip install --no-cache-dir .

RUN useradd --system --uid 10001 --gid 0 --home-dir /app --shell /usr/sbin/nologin bot \
    && mkdir -p /data \
    && chown bot:0 /data
USER 10001

# Defaults for a container; everything else comes from the environment (config/example.env).
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
