"""An evaluator for the subset of Azure's role-assignment condition language the bootstrap's condition uses.

Semantics from Azure's docs, "Azure role assignment condition format and syntax": `ActionMatches`, `!`,
`AND`, `OR`, parentheses, `@Request[...]` / `@Resource[...]` attributes, the cross-product operators
`ForAnyOfAnyValues`, `ForAnyOfAllValues`, `ForAllOfAnyValues`, `ForAllOfAllValues`, and the functions
`GuidEquals`, `GuidNotEquals`, `StringEquals`, `StringEqualsIgnoreCase`, `StringLike` (`*` any characters, `?` one). Stricter than Azure in one way, on purpose: a group may
join at most two expressions ("If you have three or more expressions for a targeted action, you must add
parentheses to define the order"), so an ungrouped chain is refused rather than guessed at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

TOKEN = re.compile(
    r"\s*(?:(?P<open>\()|(?P<close>\))|(?P<not>!)|(?P<op>AND|OR)\b|"
    r"(?P<action>ActionMatches\{'(?P<action_name>[^']*)'\})|"
    r"(?P<attribute>@(?P<source>Request|Resource)\[(?P<attribute_name>[^\]]+)\])|"
    r"(?P<operator>(?:For(?:Any|All)Of(?:Any|All)Values:)?(?:GuidEquals|GuidNotEquals|StringEqualsIgnoreCase|StringEquals|StringLike))|"
    r"(?P<values>\{[^}]*\}|'[^']*'))"
)


def _like(value: str, pattern: str) -> bool:
    return re.fullmatch("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), value, re.DOTALL) is not None


FUNCTIONS = {
    "StringLike": _like,
    "GuidEquals": lambda a, b: a.lower() == b.lower(),
    "GuidNotEquals": lambda a, b: a.lower() != b.lower(),
    "StringEquals": lambda a, b: a == b,
    "StringEqualsIgnoreCase": lambda a, b: a.lower() == b.lower(),
}


class ConditionSyntaxError(ValueError):
    pass


@dataclass(frozen=True)
class Request:
    """One authorization request: the action and the attributes each source offers for it."""

    action: str
    request: dict[str, list[str]] = field(default_factory=dict)
    resource: dict[str, list[str]] = field(default_factory=dict)


def _tokens(text: str) -> list[re.Match]:
    found, position = [], 0
    text = text.strip()
    while position < len(text):
        match = TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise ConditionSyntaxError(f"unexpected text at {position}: {text[position : position + 40]!r}")
        found.append(match)
        position = match.end()
    return found


def _values(text: str) -> list[str]:
    """`{'a', 'b'}`, or one quoted value as Azure also writes it."""
    if text.startswith("'"):
        return [text[1:-1]]
    return [v.strip().strip("'") for v in text[1:-1].split(",") if v.strip()]


class _Parser:
    def __init__(self, text: str):
        self.tokens = _tokens(text)
        self.i = 0

    def peek(self, kind: str) -> bool:
        return self.i < len(self.tokens) and self.tokens[self.i].group(kind) is not None

    def take(self, kind: str) -> re.Match:
        if not self.peek(kind):
            raise ConditionSyntaxError(f"expected {kind} at token {self.i}")
        self.i += 1
        return self.tokens[self.i - 1]

    def expression(self):
        left = self.term()
        if not self.peek("op"):
            return left
        op = self.take("op").group("op")
        right = self.term()
        if self.peek("op"):
            raise ConditionSyntaxError("three or more expressions in one group: add parentheses to define the order")
        return (op, left, right)

    def term(self):
        if self.peek("not"):
            self.take("not")
            return ("NOT", self.term())
        if self.peek("open"):
            self.take("open")
            inner = self.expression()
            self.take("close")
            return inner
        if self.peek("action"):
            return ("ACTION", self.take("action").group("action_name"))
        attribute = self.take("attribute")
        operator = self.take("operator").group("operator")
        quantifier, _, function = operator.rpartition(":")
        return (
            "COMPARE",
            attribute.group("source"),
            attribute.group("attribute_name"),
            quantifier or "ForAnyOfAnyValues",
            function,
            _values(self.take("values").group("values")),
        )

    def parse(self):
        tree = self.expression()
        if self.i != len(self.tokens):
            raise ConditionSyntaxError(f"unexpected token {self.tokens[self.i].group(0)!r}")
        return tree


def parse(condition: str):
    return _Parser(condition).parse()


def _compare(quantifier: str, function: str, left: list[str], right: list[str]) -> bool:
    equal = FUNCTIONS[function]
    any_left, any_right = quantifier.startswith("ForAnyOf"), quantifier.endswith("AnyValues")
    per_left = [(any if any_right else all)(equal(a, b) for b in right) for a in left]
    return any(per_left) if any_left else all(per_left)


def _evaluate(tree, request: Request) -> bool:
    kind = tree[0]
    if kind == "AND":
        return _evaluate(tree[1], request) and _evaluate(tree[2], request)
    if kind == "OR":
        return _evaluate(tree[1], request) or _evaluate(tree[2], request)
    if kind == "NOT":
        return not _evaluate(tree[1], request)
    if kind == "ACTION":
        return request.action.lower() == tree[1].lower()
    _, source, name, quantifier, function, values = tree
    attributes = request.request if source == "Request" else request.resource
    if name not in attributes:
        raise KeyError(f"@{source}[{name}] is not available for {request.action}")
    return _compare(quantifier, function, attributes[name], values)


def evaluate(condition: str, request: Request) -> bool:
    """Whether the condition lets this request through (short-circuit, as Azure evaluates it)."""
    return _evaluate(parse(condition), request)
