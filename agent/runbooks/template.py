"""A tiny, safe expression language for runbook arguments and `when` conditions.

Expressions are parsed by a hand-written recursive-descent parser into tuples and evaluated over plain
dicts and lists; nothing is handed to Python's `eval`. Supported: literals (numbers, 'strings', true,
false, null), names, `.key` and `[index]` lookups, arithmetic (+ - * / // %), comparisons
(== != < <= > >= in, not in), `and` / `or` / `not` (short-circuit), `a if cond else b`, lists, and the
functions min, max, round, int, float, str, len, abs, lower, upper.

Templates are strings with `{{ expr }}` placeholders. A string that is exactly one placeholder yields the
expression's value with its type (so `"{{ steps.rec.data.recommended_replicas }}"` is an int); otherwise
each placeholder is formatted into the text.

Why not jinja2's sandboxed native environment: runbook files are the user's, and this is their language.
jinja2 would change it under them (`null` is not a literal there, `len(x)` and `lower(x)` become filters,
a missing key is a silent Undefined unless made strict, and its errors do not name the path that failed,
e.g. `steps.rca.data.ranking[0]: index 0 out of range`); its sandbox guards attribute access on Python
objects, while this evaluator only ever walks plain dicts and lists and calls a closed set of functions.
The load-time reference check (`agent.runbooks.model`) walks this parser's tree.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from tools.errors import InvalidInput

Node = tuple[Any, ...]


class TemplateError(InvalidInput):
    """A syntax error, or an evaluation error naming the expression and the path that failed."""


_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+\.\d*|\.\d+|\d+)|(?P<str>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>==|!=|<=|>=|//|[-+*/%<>()\[\].,]))"
)
_KEYWORDS = {"and", "or", "not", "in", "if", "else", "true", "false", "null", "True", "False", "None"}
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "min": min, "max": max, "round": round, "int": int, "float": float, "str": str, "len": len, "abs": abs,
    "lower": lambda s: str(s).lower(), "upper": lambda s: str(s).upper(),
}
ROOTS = ("params", "steps", "run")


@dataclass(frozen=True)
class _Tok:
    kind: str  # num | str | name | op | kw | end
    text: str
    pos: int


def _tokens(src: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(src):
        if src[pos:].strip() == "":
            break
        m = _TOKEN.match(src, pos)
        if m is None or m.end() == pos:
            raise TemplateError(f"unexpected character {src[pos:].strip()[:1]!r} at {pos} in {src!r}")
        group = m.lastgroup or "op"
        text = m.group(group)
        kind = "kw" if group == "name" and text in _KEYWORDS else group
        out.append(_Tok(kind, text, m.start(group)))
        pos = m.end()
    out.append(_Tok("end", "", len(src)))
    return out


class _Parser:
    def __init__(self, src: str) -> None:
        self.src = src
        self.toks = _tokens(src)
        self.i = 0

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self, text: str | None = None, kind: str | None = None) -> _Tok:
        t = self.toks[self.i]
        if (text is not None and t.text != text) or (kind is not None and t.kind != kind):
            want = repr(text) if text is not None else kind
            got = repr(t.text) if t.text else "end of expression"
            raise TemplateError(f"expected {want} at {t.pos} in {self.src!r}, got {got}")
        self.i += 1
        return t

    def at(self, *texts: str) -> bool:
        t = self.peek()
        return t.kind in ("op", "kw") and t.text in texts

    def parse(self) -> Node:
        if self.peek().kind == "end":
            raise TemplateError("empty expression")
        node = self.ternary()
        if self.peek().kind != "end":
            t = self.peek()
            raise TemplateError(f"unexpected {t.text!r} at {t.pos} in {self.src!r}")
        return node

    def ternary(self) -> Node:
        node = self.or_()
        if self.at("if"):
            self.take("if")
            cond = self.or_()
            self.take("else")
            return ("if", cond, node, self.ternary())
        return node

    def or_(self) -> Node:
        node = self.and_()
        while self.at("or"):
            self.take()
            node = ("or", node, self.and_())
        return node

    def and_(self) -> Node:
        node = self.not_()
        while self.at("and"):
            self.take()
            node = ("and", node, self.not_())
        return node

    def not_(self) -> Node:
        if self.at("not"):
            self.take()
            return ("not", self.not_())
        return self.comparison()

    def comparison(self) -> Node:
        node = self.additive()
        while True:
            if self.at("==", "!=", "<", "<=", ">", ">=", "in"):
                op = self.take().text
            elif self.at("not") and self.toks[self.i + 1].text == "in":
                self.take()
                self.take()
                op = "not in"
            else:
                return node
            node = ("cmp", op, node, self.additive())

    def additive(self) -> Node:
        node = self.term()
        while self.at("+", "-"):
            op = self.take().text
            node = ("bin", op, node, self.term())
        return node

    def term(self) -> Node:
        node = self.unary()
        while self.at("*", "/", "//", "%"):
            op = self.take().text
            node = ("bin", op, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.at("-"):
            self.take()
            return ("neg", self.unary())
        return self.postfix()

    def postfix(self) -> Node:
        node = self.primary()
        while True:
            if self.at("."):
                self.take()
                key = self.take(kind="name") if self.peek().kind == "name" else self.take(kind="kw")
                node = ("get", node, ("lit", key.text))
            elif self.at("["):
                self.take()
                idx = self.ternary()
                self.take("]")
                node = ("get", node, idx)
            elif self.at("(") and node[0] == "name":
                if node[1] not in _FUNCTIONS:
                    raise TemplateError(f"unknown function {node[1]!r} in {self.src!r}; "
                                        f"allowed: {', '.join(_FUNCTIONS)}")
                self.take()
                args: list[Node] = []
                while not self.at(")"):
                    args.append(self.ternary())
                    if not self.at(")"):
                        self.take(",")
                self.take(")")
                node = ("call", node[1], tuple(args))
            else:
                return node

    def primary(self) -> Node:
        t = self.peek()
        if t.kind == "num":
            self.take()
            return ("lit", float(t.text) if "." in t.text else int(t.text))
        if t.kind == "str":
            self.take()
            return ("lit", re.sub(r"\\(.)", r"\1", t.text[1:-1]))
        if t.kind == "kw" and t.text in ("true", "True"):
            self.take()
            return ("lit", True)
        if t.kind == "kw" and t.text in ("false", "False"):
            self.take()
            return ("lit", False)
        if t.kind == "kw" and t.text in ("null", "None"):
            self.take()
            return ("lit", None)
        if t.kind == "name":
            self.take()
            return ("name", t.text)
        if self.at("("):
            self.take()
            node = self.ternary()
            self.take(")")
            return node
        if self.at("["):
            self.take()
            items: list[Node] = []
            while not self.at("]"):
                items.append(self.ternary())
                if not self.at("]"):
                    self.take(",")
            self.take("]")
            return ("list", tuple(items))
        got = repr(t.text) if t.text else "end of expression"
        raise TemplateError(f"unexpected {got} at {t.pos} in {self.src!r}")


def parse(src: str) -> Node:
    """Parse an expression; raise TemplateError naming the position on a syntax error."""
    return _Parser(src).parse()


def describe(node: Node) -> str:
    """The source-like text of a lookup chain, for error messages (`steps.rca.data.ranking[0]`)."""
    if node[0] == "name":
        return str(node[1])
    if node[0] == "get":
        base = describe(node[1])
        key = node[2]
        if key[0] == "lit" and isinstance(key[1], str) and re.fullmatch(r"[A-Za-z_]\w*", key[1]):
            return f"{base}.{key[1]}"
        return f"{base}[{describe(key) if key[0] != 'lit' else repr(key[1])}]"
    if node[0] == "lit":
        return repr(node[1])
    return "(expression)"


def lookups(node: Node) -> Iterator[list[Any]]:
    """Every name/lookup chain in an expression as a list of literal keys (non-literal keys end the chain)."""
    kind = node[0]
    if kind in ("name", "get"):
        chain: list[Any] = []
        cur = node
        while cur[0] == "get":
            key = cur[2]
            chain.insert(0, key[1] if key[0] == "lit" else None)
            if key[0] != "lit":
                yield from lookups(key)
            cur = cur[1]
        if cur[0] == "name":
            chain.insert(0, cur[1])
            cut = chain.index(None) if None in chain else len(chain)
            yield chain[:cut]
        else:
            yield from lookups(cur)
        return
    for part in node[1:]:
        if isinstance(part, tuple) and part and isinstance(part[0], str):
            yield from lookups(part)
        elif isinstance(part, tuple):
            for sub in part:
                if isinstance(sub, tuple):
                    yield from lookups(sub)


def _index(base: Any, key: Any, where: str) -> Any:
    if base is None:
        raise TemplateError(f"{where} is null")
    if isinstance(base, dict):
        if key not in base:
            keys = ", ".join(map(str, base)) or "none"
            raise TemplateError(f"{where} has no key {key!r} (keys: {keys})")
        return base[key]
    if isinstance(base, list | tuple | str):
        if not isinstance(key, int) or isinstance(key, bool):
            raise TemplateError(f"{where} is a list; index it with an integer, not {key!r}")
        if not -len(base) <= key < len(base):
            raise TemplateError(f"{where}[{key}] is out of range (length {len(base)})")
        return base[key]
    raise TemplateError(f"{where} is a {type(base).__name__}, not a mapping or list")


def _arith(op: str, a: Any, b: Any) -> Any:
    for v in (a, b):
        if isinstance(v, bool) or not isinstance(v, int | float | str | list):
            raise TemplateError(f"cannot apply {op!r} to {a!r} and {b!r}")
    try:
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            return a / b
        if op == "//":
            return a // b
        return a % b
    except (TypeError, ZeroDivisionError) as e:
        raise TemplateError(f"cannot compute {a!r} {op} {b!r}: {e}") from None


def _compare(op: str, a: Any, b: Any) -> bool:
    try:
        if op == "==":
            return bool(a == b)
        if op == "!=":
            return bool(a != b)
        if op == "in":
            return a in b
        if op == "not in":
            return a not in b
        if a is None or b is None:
            raise TypeError("null")
        return bool({"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op])
    except TypeError:
        raise TemplateError(f"cannot compare {a!r} {op} {b!r}") from None


def evaluate(node: Node, env: dict[str, Any]) -> Any:
    """Evaluate a parsed expression over `env` (a mapping of root names to plain data)."""
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "name":
        if node[1] in _FUNCTIONS:
            raise TemplateError(f"{node[1]} is a function; call it as {node[1]}(...)")
        if node[1] not in env:
            raise TemplateError(f"unknown name {node[1]!r}; available: {', '.join(env)}")
        return env[node[1]]
    if kind == "get":
        return _index(evaluate(node[1], env), evaluate(node[2], env), describe(node[1]))
    if kind == "if":
        return evaluate(node[2], env) if evaluate(node[1], env) else evaluate(node[3], env)
    if kind == "and":
        left = evaluate(node[1], env)
        return evaluate(node[2], env) if left else left
    if kind == "or":
        left = evaluate(node[1], env)
        return left if left else evaluate(node[2], env)
    if kind == "not":
        return not evaluate(node[1], env)
    if kind == "cmp":
        return _compare(node[1], evaluate(node[2], env), evaluate(node[3], env))
    if kind == "bin":
        return _arith(node[1], evaluate(node[2], env), evaluate(node[3], env))
    if kind == "neg":
        v = evaluate(node[1], env)
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise TemplateError(f"cannot negate {v!r}")
        return -v
    if kind == "list":
        return [evaluate(x, env) for x in node[1]]
    if kind == "call":
        args = [evaluate(x, env) for x in node[2]]
        try:
            return _FUNCTIONS[node[1]](*args)
        except (TypeError, ValueError) as e:
            raise TemplateError(f"{node[1]}({', '.join(map(repr, args))}) failed: {e}") from None
    raise TemplateError(f"bad expression node {kind!r}")


def eval_expr(src: str, env: dict[str, Any]) -> Any:
    """Parse and evaluate; errors carry the expression text."""
    try:
        return evaluate(parse(src), env)
    except TemplateError as e:
        msg = str(e)
        raise TemplateError(msg if src in msg else f"{msg} (in {src!r})") from None


_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.S)


def placeholders(text: str) -> list[str]:
    """The expressions inside `{{ }}` in a template string."""
    return [m.group(1).strip() for m in _PLACEHOLDER.finditer(text)]


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else f"{v:.4g}" if abs(v) < 1e6 else str(v)
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def render(value: Any, env: dict[str, Any]) -> Any:
    """Render a template value: strings with placeholders, recursively through dicts and lists."""
    if isinstance(value, dict):
        return {k: render(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, env) for v in value]
    if not isinstance(value, str) or "{{" not in value:
        return value
    whole = _PLACEHOLDER.fullmatch(value.strip())
    if whole and "{{" not in whole.group(1):
        return eval_expr(whole.group(1).strip(), env)
    return _PLACEHOLDER.sub(lambda m: _fmt(eval_expr(m.group(1).strip(), env)), value)


def truthy(src: str, env: dict[str, Any]) -> bool:
    """Evaluate a `when` condition (bare expression, or one `{{ }}` placeholder) to a bool."""
    text = src.strip()
    whole = _PLACEHOLDER.fullmatch(text)
    return bool(eval_expr(whole.group(1).strip() if whole else text, env))
