"""The parser of Go's ``text/template/parse`` (``parse.go``): items into trees, one per template name.

``parse(text, name, funcs)`` returns ``{name: Tree}`` with the body under ``name`` and every
``{{define}}``/``{{block}}`` under its own name; errors are :class:`TemplateError` with Go's messages
(``template: <name>:<line>: ...``). Function names are checked at parse time, as Go does.
"""

from __future__ import annotations

from collections.abc import Container

from tsdb.gotemplate import lexer as lx
from tsdb.gotemplate.errors import TemplateError
from tsdb.gotemplate.nodes import (
    ActionNode,
    BoolNode,
    BranchNode,
    BreakNode,
    ChainNode,
    CommandNode,
    ContinueNode,
    DotNode,
    ElseNode,
    EndNode,
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
    is_empty_tree,
)
from tsdb.gotemplate.strconv import parse_number, unquote

MAX_DEPTH = 100
"""Nesting of control structures and of parenthesized pipelines (Go bounds both too)."""


class _Parser:
    def __init__(self, name: str, parse_name: str, text: str, items: list[lx.Item], funcs: Container[str],
                 trees: dict[str, Tree]) -> None:
        self.name = name
        self.parse_name = parse_name
        self.text = text
        self.items = items
        self.i = 0
        self.funcs = funcs
        self.trees = trees
        self.vars = ["$"]
        self.range_depth = 0
        self.action_line = 0
        self.last_line = 1
        self.control_depth = 0
        self.expr_depth = 0

    # -- items --
    def next(self) -> lx.Item:
        item = self.items[self.i] if self.i < len(self.items) else self.items[-1]
        self.i = min(self.i + 1, len(self.items))
        self.last_line = item.line
        return item

    def backup(self, n: int = 1) -> None:
        self.i -= n

    def peek(self) -> lx.Item:
        return self.items[self.i] if self.i < len(self.items) else self.items[-1]

    def next_non_space(self) -> lx.Item:
        item = self.next()
        while item.kind == lx.SPACE:
            item = self.next()
        return item

    def peek_non_space(self) -> lx.Item:
        item = self.next_non_space()
        self.backup()
        return item

    def errorf(self, message: str) -> TemplateError:
        return TemplateError(f"template: {self.parse_name}:{self.last_line}: {message}")

    def expect(self, kind: str, context: str) -> lx.Item:
        token = self.next_non_space()
        if token.kind != kind:
            raise self.unexpected(token, context)
        return token

    def unexpected(self, token: lx.Item, context: str) -> TemplateError:
        if token.kind == lx.ERROR:
            extra = ""
            if self.action_line and self.action_line != token.line:
                extra = f" in action started at {self.parse_name}:{self.action_line}"
                if token.val.endswith(" action"):
                    extra = extra[len(" in action"):]
            return self.errorf(f"{token}{extra}")
        return self.errorf(f"unexpected {token} in {context}")

    # -- structure --
    def parse_root(self) -> ListNode:
        root = ListNode(self.peek().pos)
        while self.peek().kind != lx.EOF:
            if self.peek().kind == lx.LEFT_DELIM:
                mark = self.i
                self.next()
                if self.next_non_space().kind == "define":
                    self.parse_definition()
                    continue
                self.i = mark
            node = self.text_or_action()
            if isinstance(node, (EndNode, ElseNode)):
                raise self.errorf(f"unexpected {node}")
            root.nodes.append(node)
        return root

    def parse_definition(self) -> None:
        context = "define clause"
        token = self.next_non_space()
        if token.kind not in (lx.STRING, lx.RAW_STRING):
            raise self.unexpected(token, context)
        name = self._unquote(token.val)
        self.expect(lx.RIGHT_DELIM, context)
        saved = self.vars
        self.vars = ["$"]
        body, end = self.item_list()
        self.vars = saved
        if not isinstance(end, EndNode):
            raise self.errorf(f"unexpected {end} in {context}")
        self.add(Tree(name, self.parse_name, self.text, body))

    def add(self, tree: Tree) -> None:
        old = self.trees.get(tree.name)
        if old is None or is_empty_tree(old.root):
            self.trees[tree.name] = tree
        elif not is_empty_tree(tree.root):
            raise self.errorf(f"template: multiple definition of template {lx.go_quote_prefix(tree.name, 10**9)}")

    def item_list(self) -> tuple[ListNode, Node]:
        body = ListNode(self.peek_non_space().pos)
        while self.peek_non_space().kind != lx.EOF:
            node = self.text_or_action()
            if isinstance(node, (EndNode, ElseNode)):
                return body, node
            body.nodes.append(node)
        raise self.errorf("unexpected EOF")

    def text_or_action(self) -> Node:
        token = self.next_non_space()
        if token.kind == lx.TEXT:
            return TextNode(token.pos, token.val)
        if token.kind == lx.LEFT_DELIM:
            self.action_line = token.line
            try:
                return self.action()
            finally:
                self.action_line = 0
        raise self.unexpected(token, "input")

    def action(self) -> Node:
        token = self.next_non_space()
        kind = token.kind
        if kind == "block":
            return self.block_control()
        if kind in ("break", "continue"):
            end = self.next_non_space()
            if end.kind != lx.RIGHT_DELIM:
                raise self.unexpected(end, "{{" + kind + "}}")
            if self.range_depth == 0:
                raise self.errorf("{{" + kind + "}} outside {{range}}")
            return BreakNode(token.pos, token.line) if kind == "break" else ContinueNode(token.pos, token.line)
        if kind == "else":
            peek = self.peek_non_space()
            if peek.kind in ("if", "with"):
                return ElseNode(peek.pos, peek.line)  # "else if"/"else with": the keyword stays pending
            end = self.expect(lx.RIGHT_DELIM, "else")
            return ElseNode(end.pos, end.line)
        if kind == "end":
            return EndNode(self.expect(lx.RIGHT_DELIM, "end").pos)
        if kind in ("if", "range", "with"):
            return self.control(kind)
        if kind == "template":
            return self.template_control()
        self.backup()
        token = self.peek()
        return ActionNode(token.pos, token.line, self.pipeline("command", lx.RIGHT_DELIM))

    def control(self, context: str) -> BranchNode:
        saved = len(self.vars)
        self.control_depth += 1
        if self.control_depth > MAX_DEPTH:
            raise self.errorf("max control structure depth exceeded")
        try:
            pipe = self.pipeline(context, lx.RIGHT_DELIM)
            if context == "range":
                self.range_depth += 1
            body, nxt = self.item_list()
            if context == "range":
                self.range_depth -= 1
            else_body: ListNode | None = None
            if isinstance(nxt, ElseNode):
                if context in ("if", "with") and self.peek().kind == context:
                    self.next()
                    else_body = ListNode(nxt.pos, [self.control(context)])
                else:
                    else_body, nxt = self.item_list()
                    if not isinstance(nxt, EndNode):
                        raise self.errorf(f"expected end; found {nxt}")
            return BranchNode(pipe.pos, pipe.line, pipe, body, else_body, context)
        finally:
            self.control_depth -= 1
            del self.vars[saved:]

    def template_name(self, token: lx.Item, context: str) -> str:
        if token.kind in (lx.STRING, lx.RAW_STRING):
            return self._unquote(token.val)
        raise self.unexpected(token, context)

    def template_control(self) -> TemplateNode:
        context = "template clause"
        token = self.next_non_space()
        name = self.template_name(token, context)
        pipe = None
        if self.next_non_space().kind != lx.RIGHT_DELIM:
            self.backup()
            pipe = self.pipeline(context, lx.RIGHT_DELIM)
        return TemplateNode(token.pos, token.line, name, pipe)

    def block_control(self) -> TemplateNode:
        context = "block clause"
        token = self.next_non_space()
        name = self.template_name(token, context)
        pipe = self.pipeline(context, lx.RIGHT_DELIM)
        saved = self.vars
        self.vars = ["$"]
        self.control_depth += 1
        if self.control_depth > MAX_DEPTH:
            raise self.errorf("max control structure depth exceeded")
        body, end = self.item_list()
        self.control_depth -= 1
        self.vars = saved
        if not isinstance(end, EndNode):
            raise self.errorf(f"unexpected {end} in {context}")
        self.add(Tree(name, self.parse_name, self.text, body))
        return TemplateNode(token.pos, token.line, name, pipe)

    # -- pipelines --
    def pipeline(self, context: str, end: str) -> PipeNode:
        token = self.peek_non_space()
        pipe = PipeNode(token.pos, token.line)
        while True:  # declarations: "$x :=", "$x =", "$i, $v :="
            v = self.peek_non_space()
            if v.kind != lx.VARIABLE:
                break
            mark = self.i
            self.next_non_space()
            nxt = self.peek_non_space()
            if nxt.kind in (lx.ASSIGN, lx.DECLARE):
                pipe.is_assign = nxt.kind == lx.ASSIGN
                self.next_non_space()
                pipe.decl.append(VariableNode(v.pos, v.val.split(".")))
                self.vars.append(v.val)
                break
            if nxt.kind == lx.CHAR and nxt.val == ",":
                self.next_non_space()
                pipe.decl.append(VariableNode(v.pos, v.val.split(".")))
                self.vars.append(v.val)
                if context == "range" and len(pipe.decl) < 2:
                    if self.peek_non_space().kind in (lx.VARIABLE, lx.RIGHT_DELIM, lx.RIGHT_PAREN):
                        continue
                    raise self.errorf("range can only initialize variables")
                raise self.errorf(f"too many declarations in {context}")
            self.i = mark  # not a declaration: the variable is the pipeline's first operand
            break
        while True:
            token = self.next_non_space()
            if token.kind == end:
                self.check_pipeline(pipe, context)
                return pipe
            if token.kind in (lx.BOOL, lx.CHAR_CONSTANT, lx.COMPLEX, lx.DOT, lx.FIELD, lx.IDENTIFIER, lx.NUMBER,
                              lx.NIL, lx.RAW_STRING, lx.STRING, lx.VARIABLE, lx.LEFT_PAREN):
                self.backup()
                pipe.cmds.append(self.command())
            else:
                raise self.unexpected(token, context)

    def check_pipeline(self, pipe: PipeNode, context: str) -> None:
        if not pipe.cmds:
            raise self.errorf(f"missing value for {context}")
        for i, cmd in enumerate(pipe.cmds[1:]):
            if isinstance(cmd.args[0], (BoolNode, DotNode, NilNode, NumberNode, StringNode)):
                raise self.errorf(f"non executable command in pipeline stage {i + 2}")

    def command(self) -> CommandNode:
        cmd = CommandNode(self.peek_non_space().pos)
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                cmd.args.append(operand)
            token = self.next()
            if token.kind == lx.SPACE:
                continue
            if token.kind in (lx.RIGHT_DELIM, lx.RIGHT_PAREN):
                self.backup()
            elif token.kind != lx.PIPE:
                raise self.unexpected(token, "operand")
            break
        if not cmd.args:
            raise self.errorf("empty command")
        return cmd

    def operand(self) -> Node | None:
        node = self.term()
        if node is None:
            return None
        if self.peek().kind == lx.FIELD:
            chain = ChainNode(self.peek().pos, node)
            while self.peek().kind == lx.FIELD:
                chain.fields.append(self.next().val[1:])
            if isinstance(node, FieldNode):
                return FieldNode(chain.pos, node.ident + chain.fields)
            if isinstance(node, VariableNode):
                return VariableNode(chain.pos, node.ident + chain.fields)
            if isinstance(node, (BoolNode, StringNode, NumberNode, NilNode, DotNode)):
                raise self.errorf(f"unexpected . after term {lx.go_quote_prefix(str(node), 10**9)}")
            return chain
        return node

    def term(self) -> Node | None:
        token = self.next_non_space()
        kind = token.kind
        if kind == lx.IDENTIFIER:
            if token.val not in self.funcs:
                raise self.errorf(f"function {lx.go_quote_prefix(token.val, 10**9)} not defined")
            return IdentifierNode(token.pos, token.val)
        if kind == lx.DOT:
            return DotNode(token.pos)
        if kind == lx.NIL:
            return NilNode(token.pos)
        if kind == lx.VARIABLE:
            var = VariableNode(token.pos, token.val.split("."))
            if var.ident[0] not in self.vars:
                raise self.errorf(f"undefined variable {lx.go_quote_prefix(var.ident[0], 10**9)}")
            return var
        if kind == lx.FIELD:
            return FieldNode(token.pos, token.val[1:].split("."))
        if kind == lx.BOOL:
            return BoolNode(token.pos, token.val == "true")
        if kind in (lx.CHAR_CONSTANT, lx.COMPLEX, lx.NUMBER):
            try:
                return parse_number(token.pos, token.val, kind == lx.CHAR_CONSTANT, kind == lx.COMPLEX)
            except ValueError as err:
                raise self.errorf(str(err)) from None
        if kind == lx.LEFT_PAREN:
            self.expr_depth += 1
            if self.expr_depth > MAX_DEPTH:
                raise self.errorf("max expression depth exceeded")
            try:
                return self.pipeline("parenthesized pipeline", lx.RIGHT_PAREN)
            finally:
                self.expr_depth -= 1
        if kind in (lx.STRING, lx.RAW_STRING):
            return StringNode(token.pos, token.val, self._unquote(token.val))
        self.backup()
        return None

    def _unquote(self, quoted: str) -> str:
        try:
            return unquote(quoted)
        except ValueError as err:
            raise self.errorf(str(err)) from None


def parse(text: str, name: str, funcs: Container[str], parse_name: str | None = None) -> dict[str, Tree]:
    """Parse ``text``; the body goes under ``name``, definitions under theirs. Raises TemplateError."""
    items = lx.Lexer(text, break_ok="break" not in funcs, continue_ok="continue" not in funcs).lex()
    trees: dict[str, Tree] = {}
    p = _Parser(name, parse_name or name, text, items, funcs, trees)
    try:
        root = p.parse_root()
    except RecursionError:
        raise TemplateError(f"template: {p.parse_name}:{p.last_line}: template nested too deeply") from None
    except TemplateError:
        raise
    except Exception as err:  # a parser bug must still reach the caller as a template error
        raise TemplateError(f"template: {p.parse_name}:{p.last_line}: internal error: {err}") from None
    p.add(Tree(name, p.parse_name, text, root))
    return trees
