"""Every setting Replywise reads, in one frozen object built once at start-up.

Nothing else reads os.environ: create_app() and the CLI call Settings.from_env() once and pass
the result down. Each field documents its variable; .env.example lists them all.
"""
from __future__ import annotations

import json
import os
import urllib.parse
import urllib.request
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Mapping

from backend.providers.llm.base import DEFAULT_COALESCE_MS, OPENAI_BASE_URL, ProviderConfig

PREFIX = "REPLYWISE_"

# USD per 1,000 tokens (input, output). Deployments override with REPLYWISE_PRICES; unknown
# models cost 0 and are flagged in logs rather than guessed.
DEFAULT_PRICES: dict[str, tuple[Decimal, Decimal]] = {
    "gpt-4o": (Decimal("0.0025"), Decimal("0.01")),
    "gpt-4o-mini": (Decimal("0.00015"), Decimal("0.0006")),
    "gpt-4.1": (Decimal("0.002"), Decimal("0.008")),
    "gpt-4.1-mini": (Decimal("0.0004"), Decimal("0.0016")),
    "offline": (Decimal("0"), Decimal("0")),
    "echo": (Decimal("0"), Decimal("0")),
}


class ConfigError(ValueError):
    """A setting is present but unusable; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    """Replywise configuration. Defaults give the embedded mode: SQLite, offline drafter."""

    env: str = "development"                       # REPLYWISE_ENV: development | production
    data_dir: Path = Path("var")                   # REPLYWISE_DATA_DIR: SQLite file, local keys
    database_url: str = ""                         # REPLYWISE_DATABASE_URL (default: SQLite in data_dir)
    db_pool_size: int = 10                         # REPLYWISE_DB_POOL_SIZE (PostgreSQL, per worker)
    db_max_overflow: int | None = None             # REPLYWISE_DB_MAX_OVERFLOW (default: 2x the pool)
    db_pool_timeout_s: float = 10.0                # REPLYWISE_DB_POOL_TIMEOUT_S (then 503 database_busy)
    redis_url: str | None = None                   # REPLYWISE_REDIS_URL
    redis_prefix: str = "replywise:"               # REPLYWISE_REDIS_PREFIX (keys of this deployment)
    log_level: str = "INFO"                        # REPLYWISE_LOG_LEVEL
    log_json: bool = True                          # REPLYWISE_LOG_JSON
    host: str = "127.0.0.1"                        # REPLYWISE_HOST
    port: int = 8000                               # REPLYWISE_PORT
    workers: int = 2                               # REPLYWISE_WORKERS
    threads: int = 64                              # REPLYWISE_THREADS (per worker)
    gil_switch_interval_ms: float = 0.5            # REPLYWISE_GIL_SWITCH_INTERVAL_MS (workers; docs/deploy.md)
    shed_lag_ms: float = 50.0                      # REPLYWISE_SHED_LAG_MS (worker lag shedding every new draft; 0: never)
    shed_retry_after_s: int = 5                    # REPLYWISE_SHED_RETRY_AFTER_S (Retry-After of a shed draft)
    public_base_url: str = ""                      # REPLYWISE_PUBLIC_BASE_URL
    max_request_bytes: int = 1_000_000             # REPLYWISE_MAX_REQUEST_BYTES
    providers: tuple[ProviderConfig, ...] = ()     # REPLYWISE_PROVIDERS (JSON) or REPLYWISE_OPENAI_*
    draft_deadline_s: float = 45.0                 # REPLYWISE_DRAFT_DEADLINE_S
    max_attempts_per_provider: int = 2             # REPLYWISE_MAX_ATTEMPTS_PER_PROVIDER
    breaker_failures: int = 5                      # REPLYWISE_BREAKER_FAILURES
    breaker_cooldown_s: float = 30.0               # REPLYWISE_BREAKER_COOLDOWN_S
    prompt_token_budget: int = 6000                # REPLYWISE_PROMPT_TOKEN_BUDGET
    max_output_tokens: int = 800                   # REPLYWISE_MAX_OUTPUT_TOKENS
    draft_cache_ttl_s: int = 600                   # REPLYWISE_DRAFT_CACHE_TTL_S (0 disables the cache)
    draft_cache_max_entries: int = 10_000          # REPLYWISE_DRAFT_CACHE_MAX_ENTRIES (in-process, per worker)
    prices: Mapping[str, tuple[Decimal, Decimal]] = field(
        default_factory=lambda: dict(DEFAULT_PRICES))  # REPLYWISE_PRICES (JSON)
    pseudonym_key: bytes | None = None             # REPLYWISE_PSEUDONYM_KEY (hex or text, >=16 bytes)
    audit_signing_key: str | None = None           # REPLYWISE_AUDIT_SIGNING_KEY (PEM or base64)
    audit_public_key: str | None = None            # REPLYWISE_AUDIT_PUBLIC_KEY (auditors verify with it)
    audit_checkpoint_every: int = 1000             # REPLYWISE_AUDIT_CHECKPOINT_EVERY (events)
    default_retention_days: int = 30               # REPLYWISE_RETENTION_DAYS
    pii_default_region: str = "US"                 # REPLYWISE_PII_REGION
    # --- Microsoft Entra ID (Outlook add-in): configured when the client id is set
    entra_client_id: str = ""                      # REPLYWISE_ENTRA_CLIENT_ID (the API's app id)
    entra_client_secret: str | None = None         # REPLYWISE_ENTRA_CLIENT_SECRET (on-behalf-of)
    entra_allowed_tenants: tuple[str, ...] = ()    # REPLYWISE_ENTRA_ALLOWED_TENANTS (comma list of tids)
    entra_authority_host: str = "https://login.microsoftonline.com"  # REPLYWISE_ENTRA_AUTHORITY_HOST
    entra_metadata_url: str = "{authority}/{tenant}/v2.0/.well-known/openid-configuration"  # REPLYWISE_ENTRA_METADATA_URL
    entra_spa_client_id: str = ""                  # REPLYWISE_ENTRA_SPA_CLIENT_ID (taskpane; default: entra_client_id)
    entra_clock_skew_s: int = 120                  # REPLYWISE_ENTRA_CLOCK_SKEW_S
    graph_base_url: str = "https://graph.microsoft.com/v1.0"  # REPLYWISE_GRAPH_BASE_URL
    # --- Google Workspace add-on (Gmail): configured when the service account is set
    google_addon_service_account: str = ""        # REPLYWISE_GOOGLE_ADDON_SERVICE_ACCOUNT
    google_endpoint_audiences: tuple[str, ...] = ()  # REPLYWISE_GOOGLE_ENDPOINT_AUDIENCES (comma list)
    google_oauth_client_id: str = ""               # REPLYWISE_GOOGLE_OAUTH_CLIENT_ID (userIdToken audience)
    google_certs_url: str = "https://www.googleapis.com/oauth2/v3/certs"  # REPLYWISE_GOOGLE_CERTS_URL
    gmail_api_base_url: str = "https://gmail.googleapis.com"  # REPLYWISE_GMAIL_API_BASE_URL
    gmail_deadline_s: float = 25.0                 # REPLYWISE_GMAIL_DEADLINE_S (cards must answer in ~30 s)
    # --- Knowledge base (issue 8): grounding drafts in the company's documents
    kb_passages: int = 4                           # REPLYWISE_KB_PASSAGES (per draft; 0 turns grounding off)
    kb_passage_tokens: int = 1600                  # REPLYWISE_KB_PASSAGE_TOKENS (all passages together)
    kb_max_upload_bytes: int = 50_000_000          # REPLYWISE_KB_MAX_UPLOAD_BYTES (admin API upload)
    kb_max_file_bytes: int = 500_000_000           # REPLYWISE_KB_MAX_FILE_BYTES (larger files are skipped)
    kb_ingest_workers: int = 0                     # REPLYWISE_KB_INGEST_WORKERS (0: one per CPU)
    kb_queue: str = "replywise-kb"                 # REPLYWISE_KB_QUEUE (RQ queue, when redis_url is set)
    kb_embedding_model: str = ""                   # REPLYWISE_KB_EMBEDDING_MODEL (set: hybrid ranking)
    kb_embedding_dimensions: int = 0               # REPLYWISE_KB_EMBEDDING_DIMENSIONS (0: the model's own)
    # --- analytics page, drift and /metrics (issue 6)
    secret_key: str = ""                           # REPLYWISE_SECRET_KEY (signs /admin sign-in cookies)
    google_oauth_client_secret: str = ""           # REPLYWISE_GOOGLE_OAUTH_CLIENT_SECRET (/admin Google sign-in)
    metrics_token: str = ""                        # REPLYWISE_METRICS_TOKEN (bearer for /metrics; empty: loopback only)
    metrics_multiproc_dir: str = ""                # REPLYWISE_METRICS_MULTIPROC_DIR (gunicorn: shared metric files)
    drift_recent_days: int = 7                     # REPLYWISE_DRIFT_RECENT_DAYS
    drift_baseline_days: int = 28                  # REPLYWISE_DRIFT_BASELINE_DAYS
    drift_thresholds: Mapping[str, float] = field(default_factory=dict)  # REPLYWISE_DRIFT_THRESHOLDS (JSON)

    @property
    def identity_providers(self) -> tuple[str, ...]:
        """The identity providers configured; none means local mode."""
        return tuple(name for name, on in (("entra", bool(self.entra_client_id)),
                                           ("google", bool(self.google_addon_service_account)))
                     if on)

    @property
    def entra_api_scope(self) -> str:
        """The scope the taskpane asks for: the backend's own API."""
        return f"api://{self.entra_client_id}/access_as_user" if self.entra_client_id else ""

    @property
    def local_mode(self) -> bool:
        """True when no identity provider is configured: loopback-only local identity."""
        return not self.identity_providers

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'replywise.db').resolve()}"

    def with_overrides(self, **changes: Any) -> "Settings":
        """A copy with some fields replaced (tests, CLI flags)."""
        return replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """Build Settings from REPLYWISE_* variables; raise ConfigError naming a bad one."""
        env = os.environ if environ is None else environ
        reader = _Reader(env)
        settings = cls(
            env=reader.choice("ENV", "development", {"development", "production"}),
            data_dir=Path(reader.text("DATA_DIR", "var")),
            database_url=reader.text("DATABASE_URL", ""),
            db_pool_size=reader.integer("DB_POOL_SIZE", 10, 1, 500),
            db_max_overflow=(reader.integer("DB_MAX_OVERFLOW", 0, 0, 1000)
                             if reader.text("DB_MAX_OVERFLOW", "") else None),
            db_pool_timeout_s=reader.number("DB_POOL_TIMEOUT_S", 10.0, 0.1, 300.0),
            redis_url=reader.text("REDIS_URL", "") or None,
            redis_prefix=reader.text("REDIS_PREFIX", "replywise:"),
            log_level=reader.choice("LOG_LEVEL", "INFO",
                                    {"DEBUG", "INFO", "WARNING", "ERROR"}, upper=True),
            log_json=reader.flag("LOG_JSON", True),
            host=reader.text("HOST", "127.0.0.1"),
            port=reader.integer("PORT", 8000, 1, 65535),
            workers=reader.integer("WORKERS", 2, 1, 64),
            threads=reader.integer("THREADS", 64, 1, 2000),
            gil_switch_interval_ms=reader.number("GIL_SWITCH_INTERVAL_MS", 0.5, 0.1, 100.0),
            shed_lag_ms=reader.number("SHED_LAG_MS", 50.0, 0.0, 60_000.0),
            shed_retry_after_s=reader.integer("SHED_RETRY_AFTER_S", 5, 1, 3600),
            public_base_url=reader.text("PUBLIC_BASE_URL", "").rstrip("/"),
            max_request_bytes=reader.integer("MAX_REQUEST_BYTES", 1_000_000, 1024, 100_000_000),
            providers=_providers(reader),
            draft_deadline_s=reader.number("DRAFT_DEADLINE_S", 45.0, 1.0, 600.0),
            max_attempts_per_provider=reader.integer("MAX_ATTEMPTS_PER_PROVIDER", 2, 1, 10),
            breaker_failures=reader.integer("BREAKER_FAILURES", 5, 1, 1000),
            breaker_cooldown_s=reader.number("BREAKER_COOLDOWN_S", 30.0, 0.1, 3600.0),
            prompt_token_budget=reader.integer("PROMPT_TOKEN_BUDGET", 6000, 256, 1_000_000),
            max_output_tokens=reader.integer("MAX_OUTPUT_TOKENS", 800, 16, 100_000),
            draft_cache_ttl_s=reader.integer("DRAFT_CACHE_TTL_S", 600, 0, 7 * 86400),
            draft_cache_max_entries=reader.integer("DRAFT_CACHE_MAX_ENTRIES", 10_000, 1, 10_000_000),
            prices=_prices(reader),
            pseudonym_key=_key_bytes(reader.text("PSEUDONYM_KEY", "")),
            audit_signing_key=reader.text("AUDIT_SIGNING_KEY", "") or None,
            audit_public_key=reader.text("AUDIT_PUBLIC_KEY", "") or None,
            audit_checkpoint_every=reader.integer("AUDIT_CHECKPOINT_EVERY", 1000, 1, 10_000_000),
            default_retention_days=reader.integer("RETENTION_DAYS", 30, 1, 3650),
            pii_default_region=reader.text("PII_REGION", "US").upper(),
            entra_client_id=reader.text("ENTRA_CLIENT_ID", ""),
            entra_client_secret=reader.text("ENTRA_CLIENT_SECRET", "") or None,
            entra_allowed_tenants=reader.items("ENTRA_ALLOWED_TENANTS"),
            entra_authority_host=reader.text("ENTRA_AUTHORITY_HOST",
                                             "https://login.microsoftonline.com").rstrip("/"),
            entra_metadata_url=reader.text(
                "ENTRA_METADATA_URL", "{authority}/{tenant}/v2.0/.well-known/openid-configuration"),
            entra_spa_client_id=reader.text("ENTRA_SPA_CLIENT_ID", ""),
            entra_clock_skew_s=reader.integer("ENTRA_CLOCK_SKEW_S", 120, 0, 600),
            graph_base_url=reader.text("GRAPH_BASE_URL",
                                       "https://graph.microsoft.com/v1.0").rstrip("/"),
            google_addon_service_account=reader.text("GOOGLE_ADDON_SERVICE_ACCOUNT", ""),
            google_endpoint_audiences=reader.items("GOOGLE_ENDPOINT_AUDIENCES"),
            google_oauth_client_id=reader.text("GOOGLE_OAUTH_CLIENT_ID", ""),
            google_certs_url=reader.text("GOOGLE_CERTS_URL",
                                         "https://www.googleapis.com/oauth2/v3/certs"),
            gmail_api_base_url=reader.text("GMAIL_API_BASE_URL",
                                           "https://gmail.googleapis.com").rstrip("/"),
            gmail_deadline_s=reader.number("GMAIL_DEADLINE_S", 25.0, 1.0, 29.0),
            kb_passages=reader.integer("KB_PASSAGES", 4, 0, 20),
            kb_passage_tokens=reader.integer("KB_PASSAGE_TOKENS", 1600, 100, 100_000),
            kb_max_upload_bytes=reader.integer("KB_MAX_UPLOAD_BYTES", 50_000_000, 1024,
                                               2_000_000_000),
            kb_max_file_bytes=reader.integer("KB_MAX_FILE_BYTES", 500_000_000, 1024,
                                             20_000_000_000),
            kb_ingest_workers=reader.integer("KB_INGEST_WORKERS", 0, 0, 256),
            kb_queue=reader.text("KB_QUEUE", "replywise-kb") or "replywise-kb",
            kb_embedding_model=reader.text("KB_EMBEDDING_MODEL", ""),
            kb_embedding_dimensions=reader.integer("KB_EMBEDDING_DIMENSIONS", 0, 0, 4000),
            secret_key=reader.text("SECRET_KEY", ""),
            google_oauth_client_secret=reader.text("GOOGLE_OAUTH_CLIENT_SECRET", ""),
            metrics_token=reader.text("METRICS_TOKEN", ""),
            metrics_multiproc_dir=reader.text("METRICS_MULTIPROC_DIR", ""),
            drift_recent_days=reader.integer("DRIFT_RECENT_DAYS", 7, 1, 90),
            drift_baseline_days=reader.integer("DRIFT_BASELINE_DAYS", 28, 1, 365),
            drift_thresholds=_drift_thresholds(reader),
        )
        if settings.entra_client_id and not settings.entra_allowed_tenants:
            raise ConfigError("REPLYWISE_ENTRA_ALLOWED_TENANTS must list the Entra tenant ids "
                              "allowed to use this deployment")
        if settings.env == "production" and not settings.pseudonym_key:
            raise ConfigError("REPLYWISE_PSEUDONYM_KEY is required when REPLYWISE_ENV=production")
        return settings


class _Reader:
    """Typed access to REPLYWISE_* variables with errors that name the variable."""

    def __init__(self, environ: Mapping[str, str]):
        self._env = environ

    def text(self, name: str, default: str) -> str:
        return self._env.get(PREFIX + name, default).strip()

    def proxy_for(self, url: str) -> str | None:
        """The outbound proxy for calls to `url` from the conventional variables, as curl and
        most HTTP clients read them: HTTPS_PROXY or HTTP_PROXY by the URL's scheme, else
        ALL_PROXY; none when NO_PROXY matches the host. Lower-case names win."""
        def conventional(name: str) -> str:
            return (self._env.get(name.lower()) or self._env.get(name.upper()) or "").strip()

        parts = urllib.parse.urlsplit(url)
        proxy = conventional(f"{parts.scheme}_proxy") or conventional("all_proxy")
        if not proxy or not parts.hostname:
            return None
        no_proxy = conventional("no_proxy")
        if no_proxy and urllib.request.proxy_bypass_environment(
                parts.hostname, proxies={"no": no_proxy}):
            return None
        if "://" not in proxy:  # "proxy.corp:3128", as curl takes it
            proxy = "http://" + proxy
        if not _is_http_url(proxy):
            # The value is not repeated: a proxy URL may carry a password.
            raise ConfigError(f"the proxy for {parts.hostname} (from HTTPS_PROXY, HTTP_PROXY or "
                              f"ALL_PROXY) must be an http:// or https:// URL, not "
                              f"{urllib.parse.urlsplit(proxy).scheme}://")
        return proxy

    def choice(self, name: str, default: str, allowed: set[str], upper: bool = False) -> str:
        value = self.text(name, default)
        value = value.upper() if upper else value.lower()
        if value not in allowed:
            raise ConfigError(f"{PREFIX}{name} must be one of {sorted(allowed)}, got {value!r}")
        return value

    def flag(self, name: str, default: bool) -> bool:
        value = self.text(name, "").lower()
        if not value:
            return default
        if value in {"1", "true", "yes", "on"}:
            return True
        if value in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(f"{PREFIX}{name} must be true or false, got {value!r}")

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.text(name, "")
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{PREFIX}{name} must be an integer, got {raw!r}") from None
        if not low <= value <= high:
            raise ConfigError(f"{PREFIX}{name} must be between {low} and {high}, got {value}")
        return value

    def number(self, name: str, default: float, low: float, high: float) -> float:
        raw = self.text(name, "")
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{PREFIX}{name} must be a number, got {raw!r}") from None
        if not low <= value <= high:
            raise ConfigError(f"{PREFIX}{name} must be between {low} and {high}, got {value}")
        return value

    def items(self, name: str) -> tuple[str, ...]:
        return tuple(i.strip() for i in self.text(name, "").split(",") if i.strip())

    def json(self, name: str) -> Any:
        raw = self.text(name, "")
        if not raw:
            return None
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{PREFIX}{name} is not valid JSON: {exc.msg}") from None


_PROVIDER_KINDS = {"openai", "azure", "compatible", "offline", "echo"}


def _providers(reader: _Reader) -> tuple[ProviderConfig, ...]:
    """The provider chain, in order: REPLYWISE_PROVIDERS wins over the OpenAI shortcut."""
    listed = reader.json("PROVIDERS")
    if listed is not None:
        if not isinstance(listed, list):
            raise ConfigError(f"{PREFIX}PROVIDERS must be a JSON list of provider objects")
        return tuple(_provider(entry, i, reader) for i, entry in enumerate(listed))
    api_key = reader.text("OPENAI_API_KEY", "")
    base_url = reader.text("OPENAI_BASE_URL", "")
    if not api_key and not base_url:
        return ()  # embedded default: the offline drafter answers
    return (ProviderConfig(
        name="openai" if not base_url else "compatible",
        kind="openai" if not base_url else "compatible",
        model=reader.text("OPENAI_MODEL", "gpt-4o-mini"),
        base_url=base_url or None,
        api_key=api_key or None,
        region=reader.text("OPENAI_REGION", "global"),
        timeout_s=reader.number("OPENAI_TIMEOUT_S", 30.0, 0.1, 600.0),
        proxy=reader.proxy_for(base_url or OPENAI_BASE_URL),
    ),)


def _provider(entry: Any, index: int, reader: _Reader) -> ProviderConfig:
    where = f"{PREFIX}PROVIDERS[{index}]"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} must be an object")
    kind = entry.get("kind")
    if kind not in _PROVIDER_KINDS:
        raise ConfigError(f"{where}.kind must be one of {sorted(_PROVIDER_KINDS)}")
    name = entry.get("name") or kind
    # Keys are referenced by variable name so the JSON itself can live in plain config.
    api_key = entry.get("api_key")
    if entry.get("api_key_env"):
        api_key = reader.text(str(entry["api_key_env"]).removeprefix(PREFIX), "") or None
    if kind in {"openai", "azure", "compatible"} and not entry.get("model") and kind != "azure":
        raise ConfigError(f"{where}.model is required for kind {kind}")
    if kind in {"azure", "compatible"} and not entry.get("base_url"):
        raise ConfigError(f"{where}.base_url is required for kind {kind}")
    try:
        timeout = float(entry.get("timeout_s", 30.0))
    except (TypeError, ValueError):
        raise ConfigError(f"{where}.timeout_s must be a number") from None
    proxy = entry.get("proxy")
    if proxy is not None and (not isinstance(proxy, str) or (proxy and not _is_http_url(proxy))):
        raise ConfigError(f"{where}.proxy must be an http:// or https:// URL, or \"\" to "
                          "connect directly")
    coalesce = entry.get("coalesce_ms", DEFAULT_COALESCE_MS)
    if not isinstance(coalesce, int) or isinstance(coalesce, bool) or not 0 <= coalesce <= 1000:
        raise ConfigError(f"{where}.coalesce_ms must be an integer from 0 to 1000")
    return ProviderConfig(
        name=str(name), kind=kind, model=str(entry.get("model") or entry.get("deployment") or kind),
        base_url=entry.get("base_url"), api_key=api_key, api_version=entry.get("api_version"),
        deployment=entry.get("deployment"), region=str(entry.get("region", "global")),
        timeout_s=timeout, coalesce_ms=coalesce,
        proxy=(proxy or None) if proxy is not None else None if kind in {"offline", "echo"}
        else reader.proxy_for(entry.get("base_url") or OPENAI_BASE_URL),
        **_shaping(entry, where),
    )


def _is_http_url(value: str) -> bool:
    parts = urllib.parse.urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _shaping(entry: dict[str, Any], where: str) -> dict[str, Any]:
    """Upstream shaping keys of one provider entry (issue 7): all optional, all positive."""
    values: dict[str, Any] = {}
    for key in ("rpm", "tpm", "max_concurrency", "max_queue"):
        value = entry.get(key)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= 10**9:
            raise ConfigError(f"{where}.{key} must be a positive integer")
        values[key] = value
    if entry.get("queue_timeout_s") is not None:
        value = entry["queue_timeout_s"]
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 600:
            raise ConfigError(f"{where}.queue_timeout_s must be a number from 0 to 600")
        values["queue_timeout_s"] = float(value)
    return values


def _prices(reader: _Reader) -> dict[str, tuple[Decimal, Decimal]]:
    prices = dict(DEFAULT_PRICES)
    table = reader.json("PRICES")
    if table is None:
        return prices
    if not isinstance(table, dict):
        raise ConfigError(f"{PREFIX}PRICES must be an object of model -> prices")
    for model, entry in table.items():
        try:
            prices[model] = (Decimal(str(entry["input_per_1k"])),
                             Decimal(str(entry["output_per_1k"])))
        except (KeyError, TypeError, InvalidOperation):
            raise ConfigError(f"{PREFIX}PRICES[{model!r}] needs numeric input_per_1k "
                              "and output_per_1k") from None
    return prices


def export_library_environment(settings: Settings) -> None:
    """Hand libraries that read their own variables what Settings decided (called by
    `replywise serve` before gunicorn forks): prometheus_client's multiprocess directory."""
    if settings.metrics_multiproc_dir:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = settings.metrics_multiproc_dir


def _drift_thresholds(reader: _Reader) -> dict[str, float]:
    from backend.analytics.drift import DEFAULT_THRESHOLDS  # pure; knows the metric names
    table = reader.json("DRIFT_THRESHOLDS")
    if table is None:
        return {}
    unknown = sorted(set(table) - set(DEFAULT_THRESHOLDS)) if isinstance(table, dict) else []
    if unknown:
        raise ConfigError(f"{PREFIX}DRIFT_THRESHOLDS names unknown metrics {unknown}; known: "
                          f"{sorted(DEFAULT_THRESHOLDS)}")
    if not isinstance(table, dict) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0
            for v in table.values()):
        raise ConfigError(f"{PREFIX}DRIFT_THRESHOLDS must be an object of metric -> number >= 0")
    return {str(k): float(v) for k, v in table.items()}


def _key_bytes(value: str) -> bytes | None:
    if not value:
        return None
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raw = value.encode()
    if len(raw) < 16:
        raise ConfigError(f"{PREFIX}PSEUDONYM_KEY must be at least 16 bytes")
    return raw
