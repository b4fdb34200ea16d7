"""Optional OpenTelemetry traces of each agent turn: a `turn` span with `plan`, `govern` and `act` children.

Off unless configured: `configure(endpoint)` (the `otlp_endpoint` setting) exports over OTLP/HTTP with a
batch processor; `configure(exporter=...)` takes any SDK span exporter (tests use the in-memory one). The SDK
and exporter are the optional `otel` extra; without them, or unconfigured, `span` costs nothing.
Spans carry tool names, oversight levels and statuses, the conversation id on the turn; no request text.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
from collections.abc import Iterator
from typing import Any

from agent.observe.logs import log_context

log = logging.getLogger(__name__)

_tracer: Any = None
_acting: contextvars.ContextVar[bool] = contextvars.ContextVar("keel_acting", default=False)
_provider: Any = None


class _NoSpan:
    def set_attribute(self, key: str, value: Any) -> None:
        pass


def enabled() -> bool:
    return _tracer is not None


def configure(endpoint: str = "", exporter: Any = None, service_name: str = "keel") -> bool:
    """Start tracing to `endpoint` (OTLP/HTTP, e.g. http://127.0.0.1:4318/v1/traces) or `exporter`.
    Returns False (and logs why) when neither is given or the SDK is not installed."""
    global _tracer, _provider
    if not endpoint and exporter is None:
        return False
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    except ImportError:
        log.warning("otlp_endpoint is set but opentelemetry-sdk is not installed: pip install 'keel[otel]'")
        return False
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError:
            log.warning("otlp_endpoint is set but the OTLP exporter is not installed: pip install 'keel[otel]'")
            return False
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    if _provider is not None:
        _provider.shutdown()
    _provider, _tracer = provider, provider.get_tracer("keel")
    return True


def shutdown() -> None:
    """Flush and stop tracing."""
    global _tracer, _provider
    if _provider is not None:
        _provider.shutdown()
    _tracer = _provider = None


@contextlib.contextmanager
def span(name: str, attributes: dict[str, Any] | None = None) -> Iterator[Any]:
    """A span (child of the current one) around the block; a no-op object when tracing is off."""
    if _tracer is None:
        yield _NoSpan()
        return
    with _tracer.start_as_current_span(name, attributes=attributes or {}) as sp:
        yield sp


def traced_stream(stream: Any) -> Any:
    """Wrap `AgentService.stream`: the whole turn in a `turn` span, and its conversation id on log records,
    current only while the turn's code runs (the consumer resumes the generator, so both are attached around
    each step)."""
    from agent.service import new_conversation_id

    @functools.wraps(stream)
    def wrapper(text: str, principal: Any, conversation_id: str | None = None, channel: str = "", *args: Any,
                **kwargs: Any) -> Iterator[Any]:
        cid = conversation_id or new_conversation_id()
        sp: Any = None
        if _tracer is not None:
            sp = _tracer.start_span("turn", attributes={"keel.conversation_id": cid, "keel.channel": channel,
                                                        "keel.role": str(principal.role)})
        gen = stream(text, principal, cid, channel, *args, **kwargs)
        try:
            while True:
                with _current(sp), log_context(conversation_id=cid):
                    try:
                        ev = next(gen)
                    except StopIteration:
                        return
                yield ev
        finally:
            gen.close()
            if sp is not None:
                sp.end()

    return wrapper


def _current(sp: Any) -> Any:
    if sp is None:
        return contextlib.nullcontext()
    from opentelemetry import trace

    return trace.use_span(sp, end_on_exit=False)


def traced_govern(govern: Any) -> Any:
    @functools.wraps(govern)
    def wrapper(tool: str, args: Any, *a: Any, **kw: Any) -> Any:
        with span("govern", {"keel.tool": tool}) as sp:
            governed = govern(tool, args, *a, **kw)
            if governed.decision is not None:
                sp.set_attribute("keel.oversight", str(governed.decision.oversight))
                sp.set_attribute("keel.risk", str(governed.decision.risk))
            sp.set_attribute("keel.status", str(governed.result.status))
            return governed

    return wrapper


def traced_act(run: Any, tool_of: Any) -> Any:
    """One `act` span around running a tool (an approved action's run inside `run_approved` is the same act)."""

    @functools.wraps(run)
    def wrapper(*a: Any, **kw: Any) -> Any:
        if _tracer is None or _acting.get():
            return run(*a, **kw)
        token = _acting.set(True)
        try:
            with span("act", {"keel.tool": str(tool_of(*a, **kw))}) as sp:
                result = run(*a, **kw)
                sp.set_attribute("keel.status", str(getattr(result, "status", "")))
                return result
        finally:
            _acting.reset(token)

    return wrapper


def instrument(service: Any) -> None:
    """Trace the service's turns and its gate's decisions and actions (idempotent; no-op spans when off)."""
    if getattr(service, "_keel_traced", False):
        return
    service.stream = traced_stream(service.stream)
    gate = service.gate
    gate.govern = traced_govern(gate.govern)
    # where a tool actually runs: reads inside govern, writes that need no person after action_started,
    # approved writes when resumed
    gate._execute_read = traced_act(gate._execute_read, lambda action, *a, **k: action.tool)
    gate._run = traced_act(gate._run, lambda action, *a, **k: action.tool)
    gate.run_approved = traced_act(gate.run_approved,
                                   lambda approval_id, *a, **k: getattr(gate.approvals.get(approval_id), "tool", "?"))
    service._keel_traced = True
