"""Which fields a template uses, read from its Jinja syntax tree, and which of them a context
lacks. Pure: a parsed template in, dotted names out.

Jinja's own `meta.find_undeclared_variables` (what docxtpl's get_undeclared_template_variables
uses) gives top-level names only: `seller`, never `seller.bank.bik`. Here attribute and
constant-subscript chains are followed to their end (`deal.fields["UF_CRM_1"]` is
`deal.fields.UF_CRM_1`), and a loop variable stands for an element of what it loops over
(`{% for row in items %}{{ row.total }}` uses `items[].total`). A name used only under
`|default(…)` or tested with `is defined` is optional: its absence is no error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jinja2 import nodes

EACH = "[]"  # an element of a list: "items[].name"
# names Jinja itself provides inside a template
SPECIAL = frozenset({"loop", "self", "caller", "varargs", "kwargs", "super"})


@dataclass
class Usage:
    """The dotted names a template reads; `optional` ones may be absent."""

    names: set[str] = field(default_factory=set)
    optional: set[str] = field(default_factory=set)

    @property
    def required(self) -> set[str]:
        return self.names - self.optional


class _Walker:
    def __init__(self, provided: Iterable[str]):
        self.provided = frozenset(provided) | SPECIAL  # the environment's globals and Jinja's
        self.usage = Usage()
        self.guards: list[str] = []  # names an enclosing {% if x is defined %} tested

    def chain(self, node: nodes.Node, scope: Mapping[str, str | None]) -> str | None:
        """The dotted name an expression reads, None when it is not a plain chain of a
        context name (a local, a literal, a call's result)."""
        if isinstance(node, nodes.Name):
            if node.name in scope:
                return scope[node.name]
            return None if node.name in self.provided else node.name
        if isinstance(node, nodes.Getattr):
            base = self.chain(node.node, scope)
            return f"{base}.{node.attr}" if base else None
        if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            base = self.chain(node.node, scope)
            key = node.arg.value
            if base is None:
                return None
            if isinstance(key, str):
                return f"{base}.{key}"
            return f"{base}{EACH}" if isinstance(key, int) else None
        return None

    def expr(self, node: nodes.Node, scope: dict[str, str | None], optional: bool = False,
             ) -> None:
        if isinstance(node, nodes.Name | nodes.Getattr | nodes.Getitem):
            name = self.chain(node, scope)
            if name is not None:
                self.usage.names.add(name)
                if optional or any(name == g or name.startswith((f"{g}.", f"{g}{EACH}"))
                                   for g in self.guards):
                    self.usage.optional.add(name)
                return
            # not a chain of a context name: a local's attribute, or (x|f).y — look inside
            for child in node.iter_child_nodes():
                self.expr(child, scope)
            return
        if isinstance(node, nodes.Filter) and node.name == "default" and node.node is not None:
            self.expr(node.node, scope, optional=True)
            for child in (*node.args, *node.kwargs):
                self.expr(child, scope)
            return
        if isinstance(node, nodes.Test) and node.name in ("defined", "undefined"):
            self.expr(node.node, scope, optional=True)
            return
        self.walk(node, scope)

    def body(self, stmts: Iterable[nodes.Node], scope: dict[str, str | None]) -> None:
        for stmt in stmts:
            self.walk(stmt, scope)

    @staticmethod
    def _targets(target: nodes.Node) -> list[str]:
        if isinstance(target, nodes.Name):
            return [target.name]
        if isinstance(target, nodes.Tuple):
            return [n for item in target.items for n in _Walker._targets(item)]
        return []  # NSRef (ns.attr): the namespace was declared by its own {% set %}

    def walk(self, node: nodes.Node, scope: dict[str, str | None]) -> None:
        if isinstance(node, nodes.If) and isinstance(node.test, nodes.Test) and (
                node.test.name == "defined"):
            self.expr(node.test, scope)
            guard = self.chain(node.test.node, scope)
            self.guards.append(guard or "")
            self.body(node.body, scope)
            self.guards.pop()
            for branch in (*node.elif_, *node.else_):
                self.walk(branch, scope)
        elif isinstance(node, nodes.For):
            self.expr(node.iter, scope)
            inner = dict(scope)
            source = self.chain(node.iter, scope)
            targets = self._targets(node.target)
            for name in targets:
                inner[name] = f"{source}{EACH}" if source and len(targets) == 1 else None
            inner["loop"] = None
            if node.test is not None:
                self.expr(node.test, inner)
            self.body(node.body, inner)
            self.body(node.else_, scope)
        elif isinstance(node, nodes.Assign):
            self.expr(node.node, scope)
            source = self.chain(node.node, scope)
            names = self._targets(node.target)
            for name in names:
                scope[name] = source if len(names) == 1 else None
        elif isinstance(node, nodes.AssignBlock):
            self.body(node.body, scope)
            for name in self._targets(node.target):
                scope[name] = None
        elif isinstance(node, nodes.Macro | nodes.CallBlock):
            inner = {**scope, **{a.name: None for a in node.args}, "caller": None}
            for default in node.defaults:
                self.expr(default, scope)
            if isinstance(node, nodes.CallBlock):
                self.expr(node.call, scope)
            else:
                scope[node.name] = None
            self.body(node.body, inner)
        elif isinstance(node, nodes.With):
            inner = dict(scope)
            for target, value in zip(node.targets, node.values, strict=True):
                self.expr(value, scope)
                for name in self._targets(target):
                    inner[name] = self.chain(value, scope)
            self.body(node.body, inner)
        else:
            for child in node.iter_child_nodes():
                if isinstance(child, nodes.Expr):
                    self.expr(child, scope)
                else:
                    self.walk(child, scope)


def used(tree: nodes.Template, provided: Iterable[str] = ()) -> Usage:
    """The fields a parsed template reads; `provided` are the environment's globals."""
    walker = _Walker(provided)
    walker.body(tree.body, {})
    return walker.usage


def _present(value: Any, parts: list[str]) -> bool:
    if not parts:
        return True
    head, rest = parts[0], parts[1:]
    if head.endswith(EACH):  # every element must have the rest
        key = head[: -len(EACH)]
        if key:
            if not (isinstance(value, Mapping) and key in value):
                return False
            value = value[key]
        if not isinstance(value, list | tuple):
            return False
        return all(_present(element, rest) for element in value)
    if isinstance(value, Mapping):
        if head in value:
            return _present(value[head], rest)
        return not rest and hasattr(dict, head)  # deal.fields.items()
    if isinstance(value, str):
        return hasattr(str, head)  # deal.title.upper()
    return False


def absent(names: Iterable[str], context: Mapping[str, Any]) -> list[str]:
    """The names the context does not have, sorted."""
    return sorted(n for n in set(names) if not _present(context, n.split(".")))
