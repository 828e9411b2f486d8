"""The shipped config.toml: it loads as is, and its commented examples are valid when uncommented."""

from __future__ import annotations

import tomllib
from pathlib import Path

from monitor.config import load_config, parse_config
from streams.kafka_config import KafkaSettings

CONFIG = Path(__file__).resolve().parents[2] / "config.toml"


def test_shipped_config_loads():
    cfg = load_config(CONFIG)
    assert {b.id for b in cfg.banks} == {"bank_a", "bank_b", "bank_c"}
    assert cfg.batch_size == 20000 and cfg.recent_window_months == 12


def test_commented_detector_examples_are_valid_settings():
    text = CONFIG.read_text(encoding="utf-8")
    # each example table runs from its "# [detectors.x]" line to the next bare "#"
    lines, inside = [], False
    for line in text.splitlines():
        if line.startswith("# [detectors."):
            inside = True
        elif line.strip() == "#" or not line.startswith("# "):
            inside = False
        if inside:
            lines.append(line[2:])
    raw = tomllib.loads("\n".join(lines))
    assert {"distress_score", "tax_arrears", "workforce_attrition", "electricity_drop"} <= set(raw["detectors"])
    parse_config(raw)  # raises ConfigError naming the key if an example went stale


def test_commented_kafka_example_is_valid_and_shows_the_defaults():
    text = CONFIG.read_text(encoding="utf-8")
    block = text[text.index("# [kafka]"):]
    raw = tomllib.loads("\n".join(line[2:] for line in block.splitlines() if line.startswith("# ")))
    assert parse_config(raw, environ={}).kafka == KafkaSettings()
