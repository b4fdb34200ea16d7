"""The one settings class: environment variables (KEEL_*) over `keel.toml` over defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource


class McpServerSettings(BaseModel):
    """One `[[mcp_servers]]` entry: an external MCP server whose tools keel may call (`server.tool`)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(..., pattern=r"^[A-Za-z0-9_-]{1,40}$", description="prefix of its tools' names (name.tool)")
    command: str = Field("", description="program to start for a stdio server")
    args: list[str] = Field(default_factory=list, description="its arguments")
    env: dict[str, str] = Field(default_factory=dict, description="extra environment of the stdio server")
    url: str = Field("", description="streamable HTTP endpoint (http://.../mcp) instead of a command")
    headers: dict[str, str] = Field(default_factory=dict, description="HTTP headers (e.g. Authorization)")
    write: list[str] = Field(default_factory=list, description="tools the operator marks as writes (governed as "
                             "high risk); every other tool is a read")
    timeout_s: float = Field(30.0, gt=0, le=600, description="budget per call, connection included")

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerSettings:
        if bool(self.command) == bool(self.url):
            raise ValueError(f"mcp_servers.{self.name}: set exactly one of command (stdio) or url (streamable HTTP)")
        if self.url and not self.url.startswith(("http://", "https://")):
            raise ValueError(f"mcp_servers.{self.name}.url: expected http:// or https://, got {self.url!r}")
        return self


class ServiceTable(BaseModel):
    """A keel.toml `[services.NAME]` table: what the backends cannot tell about a service."""

    model_config = ConfigDict(extra="forbid")
    aliases: list[str] = []
    protected: bool | None = None
    min_replicas: int | None = Field(None, ge=0)
    max_replicas: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _bounds(self) -> ServiceTable:
        if self.min_replicas is not None and self.max_replicas is not None and self.min_replicas > self.max_replicas:
            raise ValueError(f"min_replicas {self.min_replicas} > max_replicas {self.max_replicas}")
        return self


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KEEL_", toml_file="keel.toml", extra="ignore")

    home: Path = Field(default_factory=lambda: Path.home() / ".keel", description="data directory (KEEL_HOME)")
    autonomy: int = Field(3, ge=0, le=5, description="autonomy level 0 (manual) .. 5 (full)")
    tokens: SecretStr = Field(SecretStr(""), description="bearer tokens as token=role,token=role (viewer, operator, "
                              "approver)")
    slack_signing_secret: SecretStr = SecretStr("")
    slack_webhook_url: SecretStr = Field(SecretStr(""), description="Slack incoming webhook (its URL is a secret)")
    slack_users: str = Field("", description="Slack user -> keel role as U123=approver,U456=operator")
    slack_bot_token: SecretStr = Field(SecretStr(""), description="xoxb- token to reply to app mentions in their "
                                       "channel ('' = webhook)")
    slack_api_url: str = Field("https://slack.com/api/", description="Slack Web API base URL (bot replies)")
    runbook_resume_poll_s: float = Field(2.0, ge=0, description="how often the server resumes runbook runs whose "
                                         "approval was decided (0 = only on request)")
    # agent service and HTTP API
    queue_size: int = Field(16, ge=1, le=10_000, description="conversation turns admitted at once; more get 429")
    max_request_bytes: int = Field(65_536, ge=1024, description="largest accepted HTTP request body")
    step_limit: int = Field(8, ge=1, le=64, description="tool calls per turn before the agent answers")
    checkpoint_db: Path | None = Field(None, description="LangGraph checkpoint SQLite file (default $KEEL_HOME)")
    sim_tick_s: float = Field(60.0, gt=0, description="real seconds per simulated minute under `keel serve` (real "
                              "time by default; lower it to watch an incident unfold faster)")
    planner: Literal["llama", "transformers", "keyword"] = Field("llama", description="planner backend "
                                                                 "(agent.planner.load_planner)")
    planner_adapter: str = Field("default", description="planner adapter name")
    planner_threads: int = Field(2, ge=1, le=256, description="CPU threads of the llama.cpp planner")
    planner_merge: bool = Field(True, description="merge the adapter into a cached copy of the base GGUF (faster "
                                "decoding) instead of applying it at run time")
    planner_batching: bool = Field(True, description="decode concurrent planner calls together in one llama.cpp "
                                   "batch (same greedy output as one at a time); false: one call at a time")
    planner_slots: int = Field(8, ge=1, le=64, description="planner calls decoded at once when planner_batching "
                               "is on (as many again are kept as cached prompt prefixes)")
    planner_draft_tokens: int = Field(7, ge=0, le=16, description="batched planner: tokens drafted per step "
                                      "while one call decodes alone: a grammar retry drafts the free decode's "
                                      "text, a line past 12 tokens the text after its last 3 tokens' latest "
                                      "earlier occurrence (prompt lookup); kept only where greedy decoding "
                                      "agrees (same text, fewer steps on copied spans); 0: off")
    malloc_mmap_threshold_kb: int = Field(1024, ge=0, le=32768, description="servers (`build_service`): "
                                          "allocations of at least this many KiB are mmapped and go back to the "
                                          "OS when freed (a busy moment leaves no lasting memory step); 0 keeps "
                                          "glibc's default")
    model_cache: Path | None = Field(None, description="where the base GGUF and merged models are cached "
                                     "(default: the model package's cache)")
    token: SecretStr = Field(SecretStr(""), description="bearer token `keel chat` and `keel investigate --url` send")
    test_sim_action_delay_s: float = Field(0.0, ge=0, description="test hook: real seconds each simulated write "
                                           "takes (crash tests kill the server mid-action)")
    llama_extra_bufts: bool | None = Field(
        None, description="llama.cpp repacked weight buffers (AMX, CPU_REPACK): off unless true (the AMX path "
        "crashes on CPUs with AMX; elsewhere they were no faster); never turn them on where the CPU has AMX")

    # backends (see README "Backends"): sim is the embedded default
    metrics_backend: Literal["sim", "prometheus"] = Field("sim", description="query_metrics/RCA source")
    prometheus_url: str = Field("http://127.0.0.1:9090", description="Prometheus base URL")
    prometheus_preset: str = Field("keel_sim", description="metric -> PromQL preset: keel_sim, kubernetes")
    prometheus_queries: dict[str, Any] = Field(
        default_factory=dict, description="per-metric PromQL overrides: metric = 'QUERY' or {query, label}"
    )
    prometheus_min_step_s: float = Field(15.0, gt=0, description="smallest query_range step")
    prometheus_max_points: int = Field(240, ge=10, le=11_000, description="most points per series a query asks for")
    logs_backend: Literal["sim", "files", "loki"] = Field("sim", description="where search_logs reads")
    log_dir: Path | None = Field(None, description="directory of log files (logs_backend = files)")
    log_glob: str = Field("*.log*", description="which files under log_dir are logs (rotated ones included)")
    loki_url: str = Field("http://127.0.0.1:3100", description="Loki base URL")
    loki_service_label: str = Field("service", description="Loki stream label holding the service name")
    loki_level_label: str = Field("", description="Loki level label ('' = JSON field)")
    loki_tenant: str = Field("", description="X-Scope-OrgID for multi-tenant Loki ('' = none)")
    actions_backend: Literal["sim", "kubernetes"] = Field("sim", description="write-action target")
    kube_namespace: str = Field("default", description="namespace of the services' Deployments")
    kube_namespaces: str = Field("", description="namespaces whose Deployments and StatefulSets are the inventory, "
                                 "comma-separated ('' = kube_namespace)")
    kube_context: str = Field("", description="kubeconfig context ('' = current)")
    kube_config: Path | None = Field(None, description="kubeconfig file (default ~/.kube/config)")
    service_map: dict[str, str] = Field(
        default_factory=dict, description="contract service name -> name in your cluster"
    )
    topology: str = Field("", description="built-in topology (online-boutique, sock-shop, bank-of-anthos) or a "
                          "topology file (YAML/JSON); '' = online-boutique or the scenario's")
    topology_file: Path | None = Field(None, description="caller,callee CSV or a topology file (YAML/JSON): services "
                                       "and call graph (default: the topology's call graph)")
    services: dict[str, ServiceTable] = Field(default_factory=dict, description="[services.NAME] tables: aliases, "
                                              "protected, min_replicas, max_replicas")
    inventory_ttl_s: float = Field(60.0, gt=0, description="how long a discovered inventory is used before the "
                                   "backends are asked again")
    database_url: str = Field("", description="'' = SQLite under KEEL_HOME; postgresql://... = PostgreSQL")
    backend_timeout_s: float = Field(5.0, gt=0, le=120, description="budget per backend call")
    # governance (see governance/default_policy.yaml)
    policy_file: Path | None = Field(None, description="policy YAML deep-merged over the shipped default")
    policy: dict[str, Any] = Field(default_factory=dict, description="[policy] table: overrides over policy_file")
    audit_db: Path | None = Field(None, description="audit log and approvals SQLite file (default $KEEL_HOME)")
    audit_sync: Literal["full", "normal"] = Field("full", description="SQLite synchronous mode of audit appends")
    approval_ttl_minutes: float = Field(30.0, gt=0, description="a pending approval expires after this long")
    # alerts in, and keel's own observability
    incidents_db: Path | None = Field(None, description="incidents opened by alerts, SQLite (default $KEEL_HOME)")
    alerts_slack_channel: str = Field("", description="channel for alert incident threads via the bot token "
                                      "(chat.postMessage; '' = the incoming webhook)")
    metrics_token: SecretStr = Field(SecretStr(""), description="bearer token that may read /metrics only ('' = "
                                     "viewer tokens and above)")
    log_format: Literal["text", "json"] = Field("text", description="server log lines: text, or JSON lines with "
                                                "conversation, incident and audit ids")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("WARNING", description="server log level (INFO "
                                                                    "logs each governed write with its audit id)")
    otlp_endpoint: str = Field("", description="OTLP/HTTP traces endpoint, e.g. http://127.0.0.1:4318/v1/traces "
                               "('' = no traces; needs the otel extra)")
    # external MCP servers (`[[mcp_servers]]`): their tools become extra tools named server.tool
    mcp_servers: list[McpServerSettings] = Field(default_factory=list, description="external MCP servers")

    @field_validator("mcp_servers")
    @classmethod
    def _unique_servers(cls, v: list[McpServerSettings]) -> list[McpServerSettings]:
        names = [s.name for s in v]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"mcp_servers: names must be unique; repeated: {', '.join(dup)}")
        return v

    @field_validator("planner", mode="before")
    @classmethod
    def _planner_alias(cls, v: Any) -> Any:
        return "transformers" if v == "hf" else v

    @field_validator("home", mode="before")
    @classmethod
    def _expand(cls, v: Any) -> Any:
        return Path(v).expanduser() if isinstance(v, str) else v

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @property
    def checkpoint_path(self) -> Path:
        return self.checkpoint_db or self.home / "checkpoints.sqlite"

    def audit_db_path(self) -> Path:
        return self.audit_db or self.home / "audit.db"

    def incidents_db_path(self) -> Path:
        return self.incidents_db or self.home / "incidents.db"

    def ensure_home(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        return self.home


def get_settings(**overrides: Any) -> Settings:
    return Settings(**overrides)
