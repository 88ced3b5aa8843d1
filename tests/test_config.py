"""Settings: defaults, validation that names the variable, and .env.example completeness."""
from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest

from backend.config import ConfigError, Settings

ROOT = Path(__file__).parent.parent


def test_defaults_are_the_embedded_mode():
    settings = Settings.from_env({})
    assert settings.resolved_database_url.startswith("sqlite:///")
    assert settings.providers == ()
    assert settings.local_mode


def test_openai_shortcut_builds_one_provider():
    settings = Settings.from_env({"REPLYWISE_OPENAI_API_KEY": "sk-test",
                                  "REPLYWISE_OPENAI_MODEL": "gpt-4o"})
    (provider,) = settings.providers
    assert provider.kind == "openai" and provider.model == "gpt-4o"


def test_compatible_base_url_needs_no_key():
    settings = Settings.from_env({"REPLYWISE_OPENAI_BASE_URL": "http://127.0.0.1:11434/v1"})
    assert settings.providers[0].kind == "compatible"


def test_a_provider_coalesces_its_stream_reads_over_50_ms_unless_told_otherwise():
    settings = Settings.from_env({"REPLYWISE_PROVIDERS": json.dumps([
        {"name": "a", "kind": "compatible", "model": "m", "base_url": "http://x"},
        {"name": "b", "kind": "compatible", "model": "m", "base_url": "http://x",
         "coalesce_ms": 40},
        {"name": "c", "kind": "compatible", "model": "m", "base_url": "http://x",
         "coalesce_ms": 0}])})
    assert [p.coalesce_ms for p in settings.providers] == [50, 40, 0]


def test_provider_chain_from_json_with_key_from_another_variable():
    settings = Settings.from_env({
        "REPLYWISE_PROVIDERS": '[{"name": "eu", "kind": "azure", "base_url": "https://x",'
                               ' "deployment": "d", "api_version": "2024-10-21",'
                               ' "api_key_env": "REPLYWISE_AZURE_KEY", "region": "eu"},'
                               ' {"kind": "offline"}]',
        "REPLYWISE_AZURE_KEY": "secret"})
    first, second = settings.providers
    assert (first.name, first.api_key, first.region) == ("eu", "secret", "eu")
    assert second.kind == "offline"


@pytest.mark.parametrize("env, variable", [
    ({"REPLYWISE_PORT": "eighty"}, "REPLYWISE_PORT"),
    ({"REPLYWISE_WORKERS": "0"}, "REPLYWISE_WORKERS"),
    ({"REPLYWISE_DB_POOL_SIZE": "0"}, "REPLYWISE_DB_POOL_SIZE"),
    ({"REPLYWISE_DB_POOL_TIMEOUT_S": "soon"}, "REPLYWISE_DB_POOL_TIMEOUT_S"),
    ({"REPLYWISE_DB_MAX_OVERFLOW": "-1"}, "REPLYWISE_DB_MAX_OVERFLOW"),
    ({"REPLYWISE_LOG_JSON": "maybe"}, "REPLYWISE_LOG_JSON"),
    ({"REPLYWISE_PROVIDERS": "{not json"}, "REPLYWISE_PROVIDERS"),
    ({"REPLYWISE_PROVIDERS": '[{"kind": "nope"}]'}, "REPLYWISE_PROVIDERS[0].kind"),
    ({"REPLYWISE_PROVIDERS": '[{"kind": "compatible", "model": "m"}]'},
     "REPLYWISE_PROVIDERS[0].base_url"),
    ({"REPLYWISE_PROVIDERS": '[{"kind": "compatible", "model": "m", "base_url": "http://x",'
                             ' "coalesce_ms": -5}]'}, "REPLYWISE_PROVIDERS[0].coalesce_ms"),
    ({"REPLYWISE_PROVIDERS": '[{"kind": "compatible", "model": "m", "base_url": "http://x",'
                             ' "coalesce_ms": "soon"}]'}, "REPLYWISE_PROVIDERS[0].coalesce_ms"),
    ({"REPLYWISE_PRICES": '{"m": {"input_per_1k": "x"}}'}, "REPLYWISE_PRICES"),
    ({"REPLYWISE_PSEUDONYM_KEY": "short"}, "REPLYWISE_PSEUDONYM_KEY"),
    ({"REPLYWISE_KB_EMBEDDING_DIMENSIONS": "5000"}, "REPLYWISE_KB_EMBEDDING_DIMENSIONS"),
    ({"REPLYWISE_KB_EMBEDDING_DIMENSIONS": "many"}, "REPLYWISE_KB_EMBEDDING_DIMENSIONS"),
    ({"REPLYWISE_ENV": "production"}, "REPLYWISE_PSEUDONYM_KEY"),
])
def test_bad_values_are_refused_naming_the_variable(env, variable):
    with pytest.raises(ConfigError, match=re.escape(variable)):
        Settings.from_env(env)


def test_price_table_overrides_merge_with_defaults():
    settings = Settings.from_env({"REPLYWISE_PRICES":
                                  '{"local-llama": {"input_per_1k": 0.1, "output_per_1k": 0.2}}'})
    assert settings.prices["local-llama"] == (Decimal("0.1"), Decimal("0.2"))
    assert "gpt-4o-mini" in settings.prices


def test_env_example_lists_every_variable_the_code_reads():
    source = (ROOT / "backend" / "config.py").read_text()
    read = set(re.findall(r'reader\.\w+\("([A-Z_0-9]+)"', source))
    read |= set(re.findall(r'_reader\.\w+\("([A-Z_0-9]+)"', source))
    example = (ROOT / ".env.example").read_text()
    listed = set(re.findall(r"^#?\s*REPLYWISE_([A-Z_0-9]+)=", example, re.MULTILINE))
    assert read, "no variables found in config.py"
    assert read - listed == set()
