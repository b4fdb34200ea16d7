"""The model thread: every llama.cpp call of a planner runs on it, and greedy completions decode in one batch.

One thread ("keel-llama-…") owns every native call, so llama.cpp's buffers stay in one malloc arena (called
from a server's many request threads, each thread's arena grew and resident memory kept climbing in the
soak). It serves two kinds of work from one queue:

- `complete(prompt, max_tokens)`: a greedy completion up to the end of the line. With batching on, the
  pending completions decode together in a second llama.cpp context built on the same model (one sequence id
  and one KV stream per completion): each step evaluates, in ONE `llama_decode`, the next token of every
  generating sequence plus the prompt tokens of newly admitted ones; the next token of each is the argmax of
  its logits. Completions join between steps and leave as soon as they end (continuous batching), up to
  `slots` at once, on consecutive sequence ids. A prompt reuses the longest common token prefix cached in any
  sequence (`kv_slots`), so a conversation's next step evaluates only its new lines. The text is cut exactly
  as `create_completion` cuts it (`line_stop`).
- `submit(fn, *args)`: any other call (grammar-constrained decoding through the high-level `Llama`, which is
  rare: only when free decoding did not validate), run alone on the same thread between two batch steps.

With batching off, `complete` is the high-level `create_completion` run through `submit`, one at a time (the
unbatched path). `stats()` counts tokens evaluated and generated and the seconds spent decoding, so a
benchmark can report the tokens per second the thread sustained.
"""

from __future__ import annotations

import ctypes
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

import numpy as np

from agent.planner.kv_slots import Placement, SlotTable
from agent.planner.line_stop import capped_max_tokens, check_stop
from agent.planner.prompt_lookup import DraftSettings, accepted, draft

T = TypeVar("T")
STOPS = (b"\n",)
MIN_COPY = 32  # copy another sequence's stream only for a common prefix at least this long


@dataclass
class DecodeStats:
    """What the model thread did since it started."""

    completions: int = 0  # free (not grammar) completions finished, batched or not
    prompt_tokens: int = 0  # prompt tokens of those completions
    reused_tokens: int = 0  # batched: of which taken from a cached prefix, not evaluated
    stream_copies: int = 0  # batched: KV streams copied (prefix from another sequence, or spilled to the cache)
    evaluated_tokens: int = 0  # batched: prompt tokens evaluated
    generated_tokens: int = 0  # tokens chosen by greedy decoding (both paths)
    steps: int = 0  # llama_decode calls of the batch
    drafted_tokens: int = 0  # batched: prompt-lookup draft tokens evaluated
    accepted_tokens: int = 0  # of which greedy decoding confirmed
    max_batch_seqs: int = 0  # most sequences in one step
    decode_s: float = 0.0  # seconds in llama_decode and argmax
    calls: int = 0  # exclusive calls (unbatched completions, grammar decoding)
    call_s: float = 0.0  # seconds in them

    def to_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}


@dataclass
class _Call:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    future: Future[Any]


@dataclass
class _Completion:
    prompt: str
    max_tokens: int
    future: Future[str]
    tokens: list[int] = field(default_factory=list)
    choose: Callable[[np.ndarray], int] | None = None  # the next token from the logits (default: argmax)
    guess: str = ""  # an earlier completion of the same prompt: drafted while this one follows it
    guess_tokens: list[int] = field(default_factory=list)


@dataclass
class _Running:
    job: _Completion
    seq: int
    pos: int  # next position in the sequence
    pending: list[int]  # prompt tokens still to evaluate
    max_tokens: int
    completion: list[int] = field(default_factory=list)
    next_token: int | None = None  # chosen, not yet evaluated
    multibyte_fix: int = 0
    draft: list[int] = field(default_factory=list)  # drafted tokens evaluated with next_token this step


_STOP = object()


class ModelThread:
    """The one thread of a `llama_cpp.Llama` (see the module docstring); `batching` turns the batch on."""

    def __init__(self, llm: Any, *, batching: bool = True, slots: int = 8, cached: int | None = None,
                 drafts: DraftSettings | None = None, name: str = "keel-llama") -> None:
        self.llm = llm
        self.batching = batching
        self.drafts = drafts or DraftSettings()
        self.slots = slots
        self.cached = max(1, slots // 2) if cached is None else cached
        self.n_ctx_seq = int(llm.n_ctx()) if batching else 0  # a completion's limit, as on the unbatched path
        self._inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._waiting: deque[_Completion] = deque()
        self._running: list[_Running] = []
        self._stats = DecodeStats()
        self._stats_lock = threading.Lock()
        self._ctx: Any = None
        self._batch: Any = None
        self._table = SlotTable(self.slots, self.cached, min_copy=MIN_COPY)
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"{name}-0", daemon=True)
        self._thread.start()
        if batching:
            self.submit(self._open).result()

    # ------------------------------------------------------------------ public (any thread)
    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Run `fn(*args)` on the model thread, alone (between batch steps)."""
        if self._closed:
            raise RuntimeError("the model thread is shut down")
        fut: Future[T] = Future()
        self._inbox.put(_Call(fn, args, fut))
        return fut

    def complete(self, prompt: str, max_tokens: int, choose: Callable[[np.ndarray], int] | None = None,
                 guess: str = "") -> Future[str]:
        """A greedy completion of `prompt` up to the end of the line (at most `max_tokens` tokens). With
        batching on, `choose` may pick each next token from the logits instead of the argmax (a grammar that
        constrains the line: `lazy_grammar.LazyGrammar.choose`); it runs on the model thread. `guess` (an
        earlier completion of the same prompt, e.g. the free decode before a grammar retry) is drafted while
        the completion follows it (drafting on); it never changes the text."""
        if not self.batching:
            if choose is not None:
                raise ValueError("a token chooser needs batching on")
            return self.submit(self._unbatched, prompt, max_tokens)
        if self._closed:
            raise RuntimeError("the model thread is shut down")
        fut: Future[str] = Future()
        self._inbox.put(_Completion(prompt, max_tokens, fut, choose=choose, guess=guess))
        return fut

    def stats(self) -> DecodeStats:
        with self._stats_lock:
            return DecodeStats(**asdict(self._stats))

    def shutdown(self, wait: bool = True) -> None:
        """Finish the queued work, free the batch context and stop the thread (idempotent)."""
        if not self._closed:
            self._closed = True
            self._inbox.put(_STOP)
        if wait and self._thread is not threading.current_thread():
            self._thread.join()

    # ------------------------------------------------------------------ the thread
    def _run(self) -> None:
        stopping = False
        while True:
            busy = bool(self._running or self._waiting)
            if stopping and not busy:
                break
            try:
                job = self._inbox.get(block=not busy)
            except queue.Empty:
                job = None
            while job is not None:
                if job is _STOP:
                    stopping = True
                elif isinstance(job, _Call):
                    self._run_call(job)
                else:
                    self._waiting.append(job)
                try:
                    job = self._inbox.get_nowait()
                except queue.Empty:
                    job = None
            if self._ctx is not None and (self._running or self._waiting):
                try:
                    self._admit()
                    if self._running:
                        self._step()
                except Exception as e:  # noqa: BLE001 - no completion may hang on a broken step
                    self._fail_all(e)
        self._close()

    def _run_call(self, job: _Call) -> None:
        if not job.future.set_running_or_notify_cancel():
            return
        t0 = time.perf_counter()
        try:
            job.future.set_result(job.fn(*job.args))
        except BaseException as e:  # noqa: BLE001 - handed to the caller
            job.future.set_exception(e)
        finally:
            with self._stats_lock:
                self._stats.calls += 1
                self._stats.call_s += time.perf_counter() - t0

    def _unbatched(self, prompt: str, max_tokens: int) -> str:
        """The high-level path, one completion at a time (it reuses only the previous prompt's prefix)."""
        out = self.llm.create_completion(prompt, max_tokens=max_tokens, temperature=0.0, top_k=1, stop=["\n"])
        usage = out.get("usage") or {}
        with self._stats_lock:
            self._stats.completions += 1
            self._stats.prompt_tokens += int(usage.get("prompt_tokens", 0))
            self._stats.generated_tokens += int(usage.get("completion_tokens", 0))
        return str(out["choices"][0]["text"])

    # ------------------------------------------------------------------ batch context
    def _open(self) -> None:
        """A second context on the same model: one KV stream of the planner's context size per sequence.

        Separate streams (not one unified cache) keep each sequence's cells in position order, as on the
        unbatched path: in a shared cache a sequence's cells scatter, attention sums in another order, and on a
        near tie the greedy token can flip (seen on a planner prompt). A prefix copy between streams copies the
        whole stream, hence `MIN_COPY`."""
        import llama_cpp
        from llama_cpp._internals import LlamaBatch, LlamaContext
        from llama_cpp._utils import suppress_stdout_stderr

        params = type(self.llm.context_params).from_buffer_copy(self.llm.context_params)
        params.n_seq_max = self.slots + self.cached
        params.n_ctx = self.n_ctx_seq * params.n_seq_max
        params.kv_unified = False
        n_batch = int(params.n_batch)
        with suppress_stdout_stderr(disable=False):  # llama.cpp logs the cache layout
            self._ctx = LlamaContext(model=self.llm._model, params=params, verbose=False)
        adapter = getattr(self.llm, "_lora_adapter", None)
        if adapter is not None:
            adapters = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(adapter)
            scales = (ctypes.c_float * 1)(self.llm.lora_scale)
            if llama_cpp.llama_set_adapters_lora(self._ctx.ctx, adapters, 1, scales):
                raise RuntimeError("could not set the LoRA adapter on the batch context")
        self._batch = LlamaBatch(n_tokens=n_batch, embd=0, n_seq_max=1, verbose=False)
        self._n_batch = n_batch
        self._n_vocab = int(self.llm.n_vocab())
        self._mem = llama_cpp.llama_get_memory(self._ctx.ctx)

    def _close(self) -> None:
        for r in self._running:
            r.job.future.set_exception(RuntimeError("the model thread stopped"))
        self._running.clear()
        if self._batch is not None:
            self._batch.close()
            self._batch = None
        if self._ctx is not None:
            self._ctx.close()
            self._ctx = None

    def _tokens(self, prompt: str) -> list[int]:
        """The prompt's tokens exactly as `create_completion` builds them (BOS, text with special tokens)."""
        llm = self.llm
        bos = llm._model.token_cls()
        bos = bos if bos != -1 else llm.token_bos()
        head = [bos] if llm._model.add_bos_token() and bos != -1 else []
        sep = llm._model.token_sep()
        tail = [sep if sep != -1 else llm.token_eos()] if llm._model.add_eos_token() or sep != -1 else []
        return head + list(llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)) + tail

    def _admit(self) -> None:
        """Move waiting completions into free sequences (first come, first served)."""
        import llama_cpp

        while self._waiting:
            job = self._waiting[0]
            if job.future.cancelled():
                self._waiting.popleft()
                continue
            try:
                if not job.tokens:
                    job.tokens = self._tokens(job.prompt)
                    if job.guess:
                        job.guess_tokens = list(self.llm.tokenize(job.guess.encode("utf-8"), add_bos=False,
                                                                  special=False))
                max_tokens = capped_max_tokens(len(job.tokens), job.max_tokens, self.n_ctx_seq)
                placed: Placement | None = self._table.place(job.tokens)
            except Exception as e:  # noqa: BLE001 - a prompt that cannot be placed (too long, ...) fails alone
                self._waiting.popleft()
                job.future.set_exception(e)
                continue
            if placed is None:
                if not self._running:  # nothing will free a sequence: fail rather than spin
                    self._waiting.popleft()
                    job.future.set_exception(RuntimeError("no free sequence in the batch context"))
                    continue
                return
            self._waiting.popleft()
            # whole-stream copies (the only kind between streams; llama.cpp runs them in this order before the
            # next decode), then the sequence is cut back to its reused prefix
            copies = [c for c in (placed.spill, (placed.source, placed.seq) if placed.source is not None else None)
                      if c is not None]
            for src, dst in copies:
                llama_cpp.llama_memory_seq_rm(self._mem, dst, -1, -1)
                llama_cpp.llama_memory_seq_cp(self._mem, src, dst, -1, -1)
            llama_cpp.llama_memory_seq_rm(self._mem, placed.seq, placed.n_common, -1)
            if not job.future.set_running_or_notify_cancel():  # cancelled meanwhile: the cache stays consistent
                self._table.release(placed.seq)
                continue
            self._running.append(_Running(job, placed.seq, placed.n_common, job.tokens[placed.n_common:],
                                          max_tokens))
            with self._stats_lock:
                self._stats.prompt_tokens += len(job.tokens)
                self._stats.reused_tokens += placed.n_common
                self._stats.stream_copies += len(copies)

    def _step(self) -> None:
        """One llama_decode over every running sequence: the next token of each generating one (with its
        prompt-lookup draft when it generates alone), then prompt tokens of the others while the batch has room;
        then the greedy token at every position with logits, keeping the drafted tokens greedy confirms."""
        import llama_cpp

        b = self._batch.batch
        n = 0
        added: list[tuple[_Running, list[int]]] = []
        outputs: list[tuple[int, int, _Running]] = []  # (first batch index with logits, how many, sequence)

        def put(r: _Running, toks: list[int], n_logits: int) -> None:
            nonlocal n
            for i, t in enumerate(toks):
                b.token[n] = t
                b.pos[n] = r.pos + i
                b.n_seq_id[n] = 1
                b.seq_id[n][0] = r.seq
                b.logits[n] = i >= len(toks) - n_logits
                n += 1
            if n_logits:
                outputs.append((n - n_logits, n_logits, r))
            added.append((r, toks))

        generating = [r for r in self._running if r.next_token is not None]
        alone = len(generating) <= self.drafts.max_seqs
        for r in generating:
            if n >= self._n_batch:
                break
            room = min(self._n_batch - n, r.max_tokens - len(r.completion)) - 1
            r.draft = self._draft(r)[:max(room, 0)] if alone else []
            assert r.next_token is not None
            put(r, [r.next_token, *r.draft], 1 + len(r.draft))
        for r in self._running:
            if r.pending and n < self._n_batch:
                chunk = r.pending[: self._n_batch - n]
                put(r, chunk, 1 if len(chunk) == len(r.pending) else 0)
        b.n_tokens = n
        t0 = time.perf_counter()
        rc = llama_cpp.llama_decode(self._ctx.ctx, b)
        if rc != 0:
            self._fail_all(RuntimeError(f"llama_decode returned {rc} for a batch of {n} tokens"))
            return
        chosen: dict[int, list[int]] = {}  # sequence id -> the greedy token at each position with logits
        for first, count, r in outputs:
            picks: list[int] = []
            drafted = r.draft if r.next_token is not None else []
            for j in range(count):  # in order, up to the first drafted token greedy rejects: a chooser (grammar)
                ptr = llama_cpp.llama_get_logits_ith(self._ctx.ctx, first + j)  # advances with each pick
                logits = np.ctypeslib.as_array(ptr, shape=(self._n_vocab,))
                picks.append(r.job.choose(logits) if r.job.choose else int(np.argmax(logits)))
                if j >= len(drafted) or picks[-1] != drafted[j]:
                    break
            chosen[r.seq] = picks
        dt = time.perf_counter() - t0
        n_prompt = n_drafted = n_accepted = 0
        produced: list[tuple[_Running, list[int]]] = []
        for r, toks in added:  # a running sequence either generates (next_token + draft) or reads its prompt
            if r.next_token is not None:
                picks = chosen[r.seq]
                m = accepted(r.draft, picks)
                kept = toks[: 1 + m]  # the drafted tokens after the first rejected one hold wrong keys and values
                if len(kept) < len(toks):
                    llama_cpp.llama_memory_seq_rm(self._mem, r.seq, r.pos + len(kept), -1)
                self._table.extend(r.seq, kept)
                r.pos += len(kept)
                r.next_token = None
                n_drafted += len(r.draft)
                n_accepted += m
                produced.append((r, picks[: m + 1]))
            else:
                self._table.extend(r.seq, toks)
                r.pos += len(toks)
                r.pending = r.pending[len(toks):]
                n_prompt += len(toks)
                if r.seq in chosen:
                    produced.append((r, chosen[r.seq]))
        with self._stats_lock:
            s = self._stats
            s.steps += 1
            s.decode_s += dt
            s.evaluated_tokens += n_prompt
            s.generated_tokens += sum(len(p) for _, p in produced)
            s.drafted_tokens += n_drafted
            s.accepted_tokens += n_accepted
            s.max_batch_seqs = max(s.max_batch_seqs, len(added))
        for r, picks in produced:
            for tok in picks:
                if self._advance(r, tok):
                    break

    def _draft(self, r: _Running) -> list[int]:
        """The tokens to draft after `r`'s next token: its guess's while the completion follows the guess, else
        (once the completion is `after` tokens long) prompt lookup over the prompt and the completion so far."""
        if self.drafts.max_tokens <= 0:
            return []
        guess, n = r.job.guess_tokens, len(r.completion)
        if len(guess) > n and guess[:n] == r.completion:
            return guess[n:n + self.drafts.max_tokens]
        if n < self.drafts.after:
            return []
        return draft(r.job.tokens + r.completion, self.drafts)

    def _advance(self, r: _Running, tok: int) -> bool:
        """Append the chosen token; True when the completion ended (end of generation, the line or the cap)."""
        import llama_cpp

        if llama_cpp.llama_vocab_is_eog(self.llm._model.vocab, tok):
            self._finish(r, self.llm.detokenize(r.completion))
            return True
        r.completion.append(tok)
        check = check_stop(self.llm.detokenize(r.completion), len(r.completion), r.max_tokens, STOPS,
                           r.multibyte_fix)
        if check.done:
            self._finish(r, check.text)
            return True
        r.multibyte_fix = check.multibyte_fix
        r.next_token = tok
        return False

    def _finish(self, r: _Running, text: bytes) -> None:
        self._running.remove(r)
        self._table.release(r.seq)
        with self._stats_lock:
            self._stats.completions += 1
        r.job.future.set_result(text.decode("utf-8", errors="ignore"))

    def _fail_all(self, error: Exception) -> None:
        """A failed decode: every running completion gets the error and the cache starts empty."""
        import llama_cpp

        for r in self._running:
            r.job.future.set_exception(error)
        self._running.clear()
        llama_cpp.llama_memory_clear(self._mem, True)
        self._table.clear()
