"""The Grafana dashboard's queries (config/grafana/voicebot.json) and the metric names they
use, for tests/test_monitoring.py (against a running bot's /metrics) and
tests/test_docker.py (against Prometheus scraping the replicas).

Names are read from PromQL as the language has them, not guessed from every word: string
literals (label values), label matchers, grouping lists (``by (le)``), ranges and
durations are taken out first; a word followed by ``(`` must be a PromQL function or
aggregation; keywords and operators are not names. What remains are the series a query
selects.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "config" / "grafana" / "voicebot.json"
PROMETHEUS_CONFIG = ROOT / "config" / "prometheus.yml"

# Series Prometheus makes itself for every target, not the bot: a panel may use them.
PROMETHEUS_OWN = frozenset({"up"})

# What Grafana puts in for its built-in variables, as Prometheus would get it. Any other
# variable is refused: the dashboard has none, and a new one should be thought about here.
GRAFANA_VARIABLES = {"__rate_interval": "1m", "__interval": "30s", "__range": "1h"}

AGGREGATIONS = frozenset(
    "sum min max avg group stddev stdvar count count_values bottomk topk quantile "
    "limitk limit_ratio".split()
)
FUNCTIONS = AGGREGATIONS | frozenset(
    """abs absent absent_over_time acos acosh asin asinh atan atanh avg_over_time ceil
    changes clamp clamp_max clamp_min cos cosh count_over_time day_of_month day_of_week
    day_of_year days_in_month deg delta deriv double_exponential_smoothing end exp floor
    histogram_avg histogram_count histogram_fraction histogram_quantile histogram_stddev
    histogram_stdvar histogram_sum holt_winters hour idelta increase info irate label_join
    label_replace last_over_time ln log10 log2 mad_over_time max_over_time min_over_time
    minute month pi predict_linear present_over_time quantile_over_time rad rate resets
    round scalar sgn sin sinh sort sort_by_label sort_by_label_desc sort_desc sqrt start
    stddev_over_time stdvar_over_time sum_over_time tan tanh time timestamp vector
    year""".split()
)
KEYWORDS = frozenset(
    "by without on ignoring group_left group_right bool and or unless offset atan2 inf nan".split()
)

# $1 and ${1} are label_replace's group references, left as they are (as Grafana does)
_VARIABLE = re.compile(r"\$(?:\{([a-zA-Z_]\w*)\}|([a-zA-Z_]\w*))")
_STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_NAME_MATCHER = re.compile(r"__name__\s*(=~|!~|!=|=)\s*(\"(?:\\.|[^\"\\])*\"|'[^']*')")
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
# a word not glued to a number before it (5m, 1e3, 0x1f are numbers and durations)
_WORD = re.compile(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?")


@dataclass(frozen=True, slots=True)
class Query:
    panel: str
    expr: str


def load(path: Path = DASHBOARD) -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(path.read_text())
    return dashboard


def panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel but the rows, those inside collapsed rows too."""
    for panel in dashboard.get("panels", []):
        if panel.get("type") == "row":
            yield from panels(panel)
        else:
            yield panel


def queries(dashboard: Mapping[str, Any]) -> list[Query]:
    """Each panel's Prometheus queries, and the templating variables' (label_values etc.)."""
    found = [
        Query(panel.get("title", "?"), target["expr"])
        for panel in panels(dashboard)
        for target in panel.get("targets", [])
        if "expr" in target
    ]
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            query = variable.get("query")
            expr = query.get("query") if isinstance(query, dict) else query
            found.append(Query(f"variable {variable.get('name')}", str(expr)))
    return found


def resolve(expr: str) -> str:
    """``expr`` with Grafana's built-in variables as Prometheus would get it."""

    def value(match: re.Match[str]) -> str:
        name = match[1] or match[2]
        if name not in GRAFANA_VARIABLES:
            raise ValueError(f"unknown Grafana variable ${name} in {expr!r}")
        return GRAFANA_VARIABLES[name]

    return _VARIABLE.sub(value, expr)


def metric_names(expr: str) -> set[str]:
    """The metric (series) names a PromQL expression selects; ValueError for a function
    PromQL does not have or a name matched by a regular expression (nothing to check)."""
    text = resolve(expr)
    names: set[str] = set()
    for operator, quoted in _NAME_MATCHER.findall(text):
        if operator != "=":
            raise ValueError(f"__name__{operator} cannot be checked: {expr!r}")
        names.add(quoted[1:-1])
    text = _STRING.sub('""', text)
    text = _MATCHERS.sub("", text)
    text = _RANGE.sub("", text)
    text = _GROUPING.sub("", text)
    for word, call in _WORD.findall(text):
        if call:
            if word not in FUNCTIONS and word.lower() not in AGGREGATIONS:
                raise ValueError(f"{word}() is no PromQL function: {expr!r}")
        elif word.lower() not in KEYWORDS:  # keywords, Inf and NaN in any case
            names.add(word)
    return names


# The series each kind of metric family has in the text format, beside the family's name:
# a counter's are NAME_total, a histogram's NAME_bucket, NAME_sum and NAME_count.
_SERIES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
    "summary": ("", "_sum", "_count", "_created"),
    "info": ("_info",),
    "stateset": ("",),
    "unknown": ("",),
}


def exported_series(exposition: str) -> set[str]:
    """The series names a /metrics answer offers: those with samples, and those its
    families declare (HELP and TYPE) but have not observed yet, by the family's type."""
    series: set[str] = set()
    for family in text_string_to_metric_families(exposition):
        series.update(sample.name for sample in family.samples)
        series.update(family.name + suffix for suffix in _SERIES[family.type])
    return series


def problems(dashboard: Mapping[str, Any], exported: set[str]) -> list[str]:
    """What is wrong with the dashboard's queries against what the bot ``exported``: a
    panel without a query, a query that names no metric, a name the bot does not export."""
    found = [
        f"panel {panel.get('title')!r} has no query"
        for panel in panels(dashboard)
        if not any(target.get("expr") for target in panel.get("targets", []))
    ]
    for query in queries(dashboard):
        try:
            names = metric_names(query.expr)
        except ValueError as exc:
            found.append(f"{query.panel!r}: {exc}")
            continue
        if not names:
            found.append(f"{query.panel!r} names no metric: {query.expr!r}")
        found.extend(
            f"{query.panel!r} names {name}, which the bot does not export"
            for name in sorted(names - exported - PROMETHEUS_OWN)
        )
    return found
