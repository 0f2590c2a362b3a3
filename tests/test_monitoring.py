"""Prometheus's configuration and the Grafana dashboard, checked without Docker: every
panel's query names a metric a running bot really exports (its /metrics, scraped), and
Prometheus scrapes every replica where the bot serves it. tests/test_docker.py runs both
against Prometheus scraping the `scaled` profile's replicas."""

from __future__ import annotations

import asyncio
import copy
import re
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from bot.testing.mock_truebar import MockTruebar
from tests import dashboard as dash
from tests.bot_harness import free_port
from tests.fake_telegram import FakeTelegram
from tests.processes import bot_env, start_bot

ROOT = Path(__file__).resolve().parent.parent
STARTUP_S = 30


async def scrape_a_running_bot(mock: MockTruebar, tmp_path: Path) -> str:
    """/metrics of ``python -m bot run``, a process of its own: it exports what the bot
    registers, not whatever this test process has imported."""
    port = free_port()
    log = tmp_path / "bot.log"
    async with FakeTelegram() as fake:
        env = bot_env(fake, mock, tmp_path / "bot.db")
        env |= {"BOT_OPS_LISTEN": "127.0.0.1", "BOT_OPS_PORT": str(port)}
        process = await start_bot(env, log)
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
                deadline = asyncio.get_running_loop().time() + STARTUP_S
                while True:
                    assert process.returncode is None, log.read_text()[-3000:]
                    try:
                        answer = await http.get("/metrics")
                        if answer.status_code == 200:
                            return answer.text
                    except httpx.TransportError:
                        pass
                    assert asyncio.get_running_loop().time() < deadline, log.read_text()[-3000:]
                    await asyncio.sleep(0.1)
        finally:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), timeout=30)


def with_expr(dashboard: dict[str, Any], title: str, expr: str) -> dict[str, Any]:
    """A copy of ``dashboard`` whose panel ``title`` asks ``expr`` instead."""
    doctored = copy.deepcopy(dashboard)
    (panel,) = [p for p in dash.panels(doctored) if p["title"] == title]
    panel["targets"][0]["expr"] = expr
    return doctored


async def test_every_panel_names_a_metric_a_running_bot_exports(
    mock_truebar: MockTruebar, tmp_path: Path
) -> None:
    exported = dash.exported_series(await scrape_a_running_bot(mock_truebar, tmp_path))
    assert {"voicebot_notes_received_total", "voicebot_note_seconds_bucket"} <= exported
    dashboard = dash.load()
    assert len(list(dash.panels(dashboard))) >= 10
    assert dash.problems(dashboard, exported) == []

    # The same check against the same scrape finds a name the bot does not export: a
    # counter without _total, a histogram without _bucket, a made-up one, one in a
    # function's arguments; and a panel that names nothing.
    panel = "Queue length"
    for wrong, template in [
        ("voicebot_notes_received", "sum(increase({}[1h]))"),
        ("voicebot_note_seconds", "histogram_quantile(0.5, sum by (le) (rate({}[1h])))"),
        ("voicebot_notes_dropped_total", "sum(voicebot_queue_length) + sum({})"),
        ("voicebot_queue_len", 'sum(label_replace({}, "a", "$1", "b", "(.*)"))'),
    ]:
        doctored = with_expr(dashboard, panel, template.format(wrong))
        assert dash.problems(doctored, exported) == [
            f"{panel!r} names {wrong}, which the bot does not export"
        ]
    assert dash.problems(with_expr(dashboard, panel, "vector(1)"), exported) == [
        f"{panel!r} names no metric: 'vector(1)'"
    ]


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("voicebot_queue_length", {"voicebot_queue_length"}),
        # label values, label names, grouping labels and functions are not metric names
        (
            'sum by (outcome, le) (rate(a_bucket{outcome="b_total", le=~"c|d"}[$__rate_interval]))',
            {"a_bucket"},
        ),
        (
            "sum(rate(a_total[5m] offset 1h)) / on(job) group_left() sum(b) > bool 0",
            {"a_total", "b"},
        ),
        ("histogram_quantile(0.95, sum(rate(a_bucket[1h])) by (le))", {"a_bucket"}),
        ('sum(up{job="voicebot-replica"} == 1) or vector(0)', {"up"}),
        ('{__name__="a_total", chat_type="private"} * 1e3 + Inf', {"a_total"}),
        ("max_over_time(a[1d:5m]) and b unless c", {"a", "b", "c"}),
        ("job:a:rate5m", {"job:a:rate5m"}),  # a recording rule's name
    ],
)
def test_metric_names_are_read_from_promql(expr: str, names: set[str]) -> None:
    assert dash.metric_names(expr) == names


@pytest.mark.parametrize(
    "expr", ["sum(rates(a[1m]))", '{__name__=~"voicebot_.*"}', "rate(a[$interval])"]
)
def test_what_cannot_be_checked_is_refused(expr: str) -> None:
    with pytest.raises(ValueError):
        dash.metric_names(expr)


def test_dashboard_imports_as_is_and_asks_for_its_prometheus() -> None:
    """Imported as a file, Grafana asks which Prometheus data source to use (the
    `datasource` variable); every panel queries that one."""
    dashboard = dash.load()
    assert dashboard["title"] and dashboard["uid"] and "id" not in dashboard
    (variable,) = dashboard["templating"]["list"]
    assert (variable["type"], variable["query"], variable["name"]) == (
        "datasource",
        "prometheus",
        "datasource",
    )
    every = [*dash.panels(dashboard), *(p for p in dashboard["panels"] if p["type"] == "row")]
    assert len({p["id"] for p in every}) == len(every)
    source = {"type": "prometheus", "uid": "${datasource}"}
    for panel in dash.panels(dashboard):
        assert panel["datasource"] == source, panel["title"]
        assert all(t["datasource"] == source for t in panel["targets"]), panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
    titles = " ".join(p["title"] for p in dashboard["panels"] if p["type"] == "row")
    for part in ("Spend", "Outcomes", "Latency", "Queue"):
        assert part in titles


def scrape_jobs() -> list[dict[str, Any]]:
    config: dict[str, Any] = yaml.safe_load(dash.PROMETHEUS_CONFIG.read_text())
    jobs: list[dict[str, Any]] = config["scrape_configs"]
    return jobs


def test_prometheus_scrapes_every_replica_where_it_serves_metrics() -> None:
    """By the Compose service's DNS name, which answers with every replica's address (so
    `--scale replica=N` needs no change), on the port the Compose file gives the bot's
    endpoint; often enough to follow a note. The dashboard's job matchers name this job."""
    compose: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    replica = compose["services"]["replica"]
    port = replica["environment"]["BOT_OPS_PORT"]
    assert port in replica["expose"] and "scaled" in replica["profiles"]

    (job,) = scrape_jobs()
    assert job.get("metrics_path", "/metrics") == "/metrics"
    assert job.get("scheme", "http") == "http"
    (discovery,) = job["dns_sd_configs"]
    assert discovery["names"] == ["replica"]
    assert (discovery["type"], str(discovery["port"])) == ("A", port)
    assert "static_configs" not in job
    config = yaml.safe_load(dash.PROMETHEUS_CONFIG.read_text())
    assert int(config["global"]["scrape_interval"].removesuffix("s")) <= 15

    matched = [re.findall(r'\bjob\s*=\s*"([^"]*)"', q.expr) for q in dash.queries(dash.load())]
    assert {name for names in matched for name in names} == {job["job_name"]}
