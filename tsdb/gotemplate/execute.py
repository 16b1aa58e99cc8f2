"""Executing a parse tree as Go's ``text/template/exec.go`` does.

The state walks nodes with a variable stack (``$`` is the data), evaluates pipelines, fields, map keys,
methods and function calls with Go's argument checking, and raises :class:`TemplateError` with Go's
``template: <name>:<line>:<col>: executing "<name>" at <node>: <message>``. Template calls are bounded
(:data:`MAX_DEPTH`), and so is the output (:data:`MAX_OUTPUT`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tsdb.gotemplate.builtins import BUILTINS
from tsdb.gotemplate.errors import FuncError, TemplateError
from tsdb.gotemplate.gofmt import go_type, sprint
from tsdb.gotemplate.nodes import (
    ActionNode,
    BoolNode,
    BranchNode,
    BreakNode,
    ChainNode,
    CommandNode,
    ContinueNode,
    DotNode,
    FieldNode,
    IdentifierNode,
    ListNode,
    NilNode,
    Node,
    NumberNode,
    PipeNode,
    StringNode,
    TemplateNode,
    TextNode,
    Tree,
    VariableNode,
)
from tsdb.gotemplate.values import (
    MISSING,
    GoFunc,
    GoType,
    as_go_func,
    can_be_nil,
    is_string_map,
    truth,
    type_name,
    type_ok,
)

MAX_DEPTH = 100
"""Nested template calls allowed (Go allows 100000; Python's stack is the limit here)."""
MAX_OUTPUT = 16 * 1024 * 1024
"""Characters one execution may write."""


class _BreakError(Exception):
    pass


class _ContinueError(Exception):
    pass


class State:
    """One execution: the template set's trees and functions, the option, the output."""

    def __init__(self, trees: Mapping[str, Tree], funcs: Mapping[str, GoFunc], missingkey: str = "default") -> None:
        self.trees = trees
        self.funcs = funcs
        self.missingkey = missingkey
        self.out: list[str] = []
        self.size = 0
        self.tree: Tree | None = None
        self.name = ""
        self.node: Node | None = None
        self.vars: list[list[Any]] = []
        self.depth = 0

    # -- errors --
    def error(self, message: str) -> TemplateError:
        if self.node is None or self.tree is None:
            return TemplateError(f"template: {self.name}: {message}")
        context = str(self.node)  # whole, as current Go prints it (old releases cut it to 20 characters)
        return TemplateError(f'template: {self.tree.location(self.node)}: executing "{self.name}" at <{context}>: '
                             f"{message}")

    def write(self, text: str) -> None:
        self.size += len(text)
        if self.size > MAX_OUTPUT:
            raise self.error(f"output exceeds {MAX_OUTPUT} characters")
        self.out.append(text)

    # -- entry --
    def run(self, tree: Tree, data: Any) -> str:
        self.tree, self.name = tree, tree.name
        self.vars = [["$", data]]
        try:
            self.walk(data, tree.root)
        except RecursionError:
            raise self.error(f"exceeded maximum template depth ({MAX_DEPTH})") from None
        except (TemplateError, _BreakError, _ContinueError):
            raise
        except Exception as err:  # a bug here must still reach the caller as a template error
            raise self.error(f"internal error: {type(err).__name__}: {err}") from None
        return "".join(self.out)

    # -- variables --
    def set_var(self, name: str, value: Any) -> None:
        for entry in reversed(self.vars):
            if entry[0] == name:
                entry[1] = value
                return
        raise self.error(f"undefined variable: {name}")

    def var_value(self, name: str) -> Any:
        for entry in reversed(self.vars):
            if entry[0] == name:
                return entry[1]
        raise self.error(f"undefined variable: {name}")

    # -- walking --
    def walk(self, dot: Any, node: Node) -> None:
        self.node = node
        if isinstance(node, ActionNode):
            value = self.eval_pipeline(dot, node.pipe)
            if not node.pipe.decl:
                self.node = node
                self.write("<no value>" if value is None else sprint(value))
        elif isinstance(node, TextNode):
            self.write(node.text)
        elif isinstance(node, ListNode):
            for child in node.nodes:
                self.walk(dot, child)
        elif isinstance(node, BranchNode):
            if node.keyword == "range":
                self.walk_range(dot, node)
            else:
                self.walk_if_or_with(dot, node)
        elif isinstance(node, TemplateNode):
            self.walk_template(dot, node)
        elif isinstance(node, BreakNode):
            raise _BreakError
        elif isinstance(node, ContinueNode):
            raise _ContinueError
        else:
            raise self.error(f"unknown node: {node}")

    def walk_if_or_with(self, dot: Any, node: BranchNode) -> None:
        mark = len(self.vars)
        try:
            value = self.eval_pipeline(dot, node.pipe)
            if truth(value):
                self.walk(value if node.keyword == "with" else dot, node.body)
            elif node.else_body is not None:
                self.walk(dot, node.else_body)
        finally:
            del self.vars[mark:]

    def walk_range(self, dot: Any, node: BranchNode) -> None:
        self.node = node
        mark = len(self.vars)
        try:
            value = self.eval_pipeline(dot, node.pipe)
            body_mark = len(self.vars)
            pairs: list[tuple[Any, Any]]
            if isinstance(value, (list, tuple)):
                pairs = list(enumerate(value))
            elif isinstance(value, dict):
                pairs = [(k, value[k]) for k in sorted(value, key=_key_order)]
            elif isinstance(value, int) and not isinstance(value, bool):
                if len(node.pipe.decl) > 1:
                    raise self.error(f"can't use {value} to iterate over more than one variable")
                pairs = [(i, i) for i in range(value)]
            elif value is None:
                pairs = []
            else:  # reported at the last node evaluated, as Go does
                raise self.error(f"range can't iterate over {sprint(value)}")
            for key, elem in pairs:
                decl = node.pipe.decl
                if decl:
                    if node.pipe.is_assign:
                        self.set_var(decl[0].ident[0], key if len(decl) > 1 else elem)
                        if len(decl) > 1:
                            self.set_var(decl[1].ident[0], elem)
                    else:
                        self.vars[-1][1] = elem
                        if len(decl) > 1:
                            self.vars[-2][1] = key
                try:
                    self.walk(elem, node.body)
                except _ContinueError:
                    pass
                except _BreakError:
                    break
                finally:
                    del self.vars[body_mark:]
            if not pairs and node.else_body is not None:
                self.walk(dot, node.else_body)
        finally:
            del self.vars[mark:]

    def walk_template(self, dot: Any, node: TemplateNode) -> None:
        self.node = node
        tree = self.trees.get(node.name)
        if tree is None:
            raise self.error(f'template "{node.name}" not defined')
        if self.depth >= MAX_DEPTH:
            raise self.error(f"exceeded maximum template depth ({MAX_DEPTH})")
        new_dot = self.eval_pipeline(dot, node.pipe) if node.pipe is not None else None
        saved = (self.tree, self.name, self.vars, self.depth)
        self.tree, self.name, self.vars, self.depth = tree, tree.name, [["$", new_dot]], self.depth + 1
        try:
            self.walk(new_dot, tree.root)
        finally:
            self.tree, self.name, self.vars, self.depth = saved

    # -- evaluation --
    def eval_pipeline(self, dot: Any, pipe: PipeNode) -> Any:
        self.node = pipe
        value = MISSING
        for cmd in pipe.cmds:
            value = self.eval_command(dot, cmd, value)
        for var in pipe.decl:
            if pipe.is_assign:
                self.set_var(var.ident[0], value)
            else:
                self.vars.append([var.ident[0], value])
        return value

    def not_a_function(self, args: list[Node], final: Any) -> None:
        if len(args) > 1 or final is not MISSING:
            raise self.error(f"can't give argument to non-function {args[0]}")

    def eval_command(self, dot: Any, cmd: CommandNode, final: Any) -> Any:
        first = cmd.args[0]
        if isinstance(first, FieldNode):
            self.node = first
            return self.eval_field_chain(dot, dot, first, first.ident, cmd.args, final)
        if isinstance(first, ChainNode):
            return self.eval_chain(dot, first, cmd.args, final)
        if isinstance(first, IdentifierNode):
            return self.eval_function(dot, first, cmd, cmd.args, final)
        if isinstance(first, PipeNode):
            self.not_a_function(cmd.args, final)
            return self.eval_pipeline(dot, first)
        if isinstance(first, VariableNode):
            return self.eval_variable(dot, first, cmd.args, final)
        self.node = first
        self.not_a_function(cmd.args, final)
        if isinstance(first, BoolNode):
            return first.value
        if isinstance(first, DotNode):
            return dot
        if isinstance(first, NilNode):
            raise self.error("nil is not a command")
        if isinstance(first, NumberNode):
            return self.ideal_constant(first)
        if isinstance(first, StringNode):
            return first.text
        raise self.error(f"can't evaluate command {first}")

    def ideal_constant(self, n: NumberNode) -> Any:
        self.node = n
        text = n.text
        is_hex_int = len(text) > 2 and text[0] == "0" and text[1] in "xX" and not any(c in text for c in "pP")
        if n.is_complex:
            return n.complex_value
        if n.is_float and not is_hex_int and not text.startswith("'") and any(c in text for c in ".eEpP"):
            return n.float_value
        if n.is_int:
            return n.int_value
        if n.is_uint:
            raise self.error(f"{text} overflows int")
        return None

    def eval_chain(self, dot: Any, chain: ChainNode, args: list[Node], final: Any) -> Any:
        self.node = chain
        if isinstance(chain.node, NilNode):
            raise self.error(f"indirection through explicit nil in {chain}")
        receiver = self.eval_arg(dot, "any", chain.node)
        return self.eval_field_chain(dot, receiver, chain, chain.fields, args, final)

    def eval_variable(self, dot: Any, var: VariableNode, args: list[Node], final: Any) -> Any:
        self.node = var
        value = self.var_value(var.ident[0])
        if len(var.ident) == 1:
            self.not_a_function(args, final)
            return value
        return self.eval_field_chain(dot, value, var, var.ident[1:], args, final)

    def eval_field_chain(self, dot: Any, receiver: Any, node: Node, idents: list[str], args: list[Node],
                         final: Any) -> Any:
        for name in idents[:-1]:
            receiver = self.eval_field(dot, name, node, [], MISSING, receiver)
        return self.eval_field(dot, idents[-1], node, args, final, receiver)

    def eval_field(self, dot: Any, name: str, node: Node, args: list[Node], final: Any, receiver: Any) -> Any:
        if receiver is None:
            if self.missingkey == "error":
                raise self.error(f'nil data; no entry for key "{name}"')
            return None
        has_args = len(args) > 1 or final is not MISSING
        if name in getattr(type(receiver), "GO_METHODS", ()):
            # a named Go map or slice type with methods (Alertmanager's KV.SortedPairs, Alerts.Firing): Go
            # finds the method before any map key; a Python type lists such methods in GO_METHODS
            return self.eval_call(dot, _method(getattr(receiver, name)), False, node, name, args, final)
        if isinstance(receiver, dict):
            if has_args:
                raise self.error(f"{name} is not a method but has arguments")
            if name in receiver:
                return receiver[name]
            if self.missingkey == "error":
                raise self.error(f'map has no entry for key "{name}"')
            if self.missingkey == "zero" and is_string_map(receiver):
                return ""
            return None
        if not isinstance(receiver, (str, int, float, complex, bool, list, tuple)) and not name.startswith("_"):
            attr = getattr(receiver, name, MISSING)
            if attr is not MISSING:
                if callable(attr) and not isinstance(attr, type):
                    return self.eval_call(dot, _method(attr), False, node, name, args, final)
                if has_args:
                    raise self.error(f"{name} has arguments but cannot be invoked as function")
                return attr
        raise self.error(f"can't evaluate field {name} in type {go_type(receiver)}")

    def eval_function(self, dot: Any, ident: IdentifierNode, cmd: Node, args: list[Node], final: Any) -> Any:
        self.node = ident
        fn = self.funcs.get(ident.name)
        if fn is None:
            raise self.error(f'"{ident.name}" is not a defined function')
        return self.eval_call(dot, fn, fn is BUILTINS.get(ident.name), cmd, ident.name, args, final)

    def eval_call(self, dot: Any, fn: GoFunc, builtin: bool, node: Node, name: str, args: list[Node],
                  final: Any) -> Any:
        args = args[1:] if args else []
        num_in = len(args) + (final is not MISSING)
        num_fixed = len(args)
        if fn.variadic is not None:
            num_fixed = len(fn.params)
            if num_in < num_fixed:
                raise self.error(f"wrong number of args for {name}: want at least {num_fixed} got {len(args)}")
        elif num_in != len(fn.params):
            raise self.error(f"wrong number of args for {name}: want {len(fn.params)} got {num_in}")
        if builtin and name in ("and", "or"):
            value: Any = None
            for arg in args:
                value = self.eval_arg(dot, "value", arg)
                if truth(value) == (name == "or"):
                    return value
            if final is not MISSING:
                value = final
            return value
        argv: list[Any] = []
        for i, arg in enumerate(args):
            t = fn.params[i] if i < len(fn.params) else fn.variadic
            argv.append(self.eval_arg(dot, t or "any", arg))
        if final is not MISSING:
            pos = num_in - 1
            t = fn.params[pos] if pos < len(fn.params) else fn.variadic
            argv.append(self.validate(final, t or "any"))
        if builtin and name == "call":
            return self.call_builtin(node, argv)
        try:
            return fn.fn(*argv)
        except (TemplateError, FuncError, Exception) as err:
            self.node = node
            if isinstance(err, RecursionError):
                raise
            raise self.error(f"error calling {name}: {err}") from None

    def call_builtin(self, node: Node, argv: list[Any]) -> Any:
        target, rest = argv[0], argv[1:]
        name = str(node.args[1]) if isinstance(node, CommandNode) and len(node.args) > 1 else "fn"
        self.node = node
        if target is None:
            raise self.error("error calling call: call of nil")
        if not callable(target):
            raise self.error(f"error calling call: non-function {name} of type {go_type(target)}")
        fn = _method(target)
        if fn.variadic is None and len(rest) != len(fn.params):
            raise self.error(f"error calling call: wrong number of args for {name}: got {len(rest)} want "
                             f"{len(fn.params)}")
        try:
            return fn.fn(*rest)
        except Exception as err:
            if isinstance(err, RecursionError):
                raise
            raise self.error(f"error calling call: {err}") from None

    def eval_arg(self, dot: Any, t: GoType, n: Node) -> Any:
        self.node = n
        if isinstance(n, DotNode):
            return self.validate(dot, t)
        if isinstance(n, NilNode):
            if can_be_nil(t):
                return None
            raise self.error(f"cannot assign nil to {type_name(t)}")
        if isinstance(n, FieldNode):
            return self.validate(self.eval_field_chain(dot, dot, n, n.ident, [n], MISSING), t)
        if isinstance(n, VariableNode):
            return self.validate(self.eval_variable(dot, n, [], MISSING), t)
        if isinstance(n, PipeNode):
            return self.validate(self.eval_pipeline(dot, n), t)
        if isinstance(n, IdentifierNode):
            return self.validate(self.eval_function(dot, n, n, [], MISSING), t)
        if isinstance(n, ChainNode):
            return self.validate(self.eval_chain(dot, n, [], MISSING), t)
        if t == "bool":
            if isinstance(n, BoolNode):
                return n.value
            raise self.error(f"expected bool; found {n}")
        if t == "float64":
            if isinstance(n, NumberNode) and n.is_float:
                return n.float_value
            raise self.error(f"expected float; found {n}")
        if t == "int":
            if isinstance(n, NumberNode) and n.is_int:
                return n.int_value
            raise self.error(f"expected integer; found {n}")
        if t == "string":
            if isinstance(n, StringNode):
                return n.text
            raise self.error(f"expected string; found {n}")
        if t in ("any", "value"):
            if isinstance(n, BoolNode):
                return n.value
            if isinstance(n, NumberNode):
                return self.ideal_constant(n)
            if isinstance(n, StringNode):
                return n.text
        raise self.error(f"can't handle {n} for arg of type {type_name(t)}")

    def validate(self, value: Any, t: GoType) -> Any:
        if value is None or value is MISSING:
            if can_be_nil(t):
                return None
            raise self.error(f"invalid value; expected {type_name(t)}")
        if not type_ok(value, t):
            raise self.error(f"wrong type for value; expected {type_name(t)}; got {go_type(value)}")
        return value


def _method(fn: Callable[..., Any]) -> GoFunc:
    return as_go_func(fn)


def _key_order(key: Any) -> tuple[int, Any]:
    if isinstance(key, (int, float)) and not isinstance(key, bool):
        return (0, key)
    return (1, str(key))
