"""The lexer of Go's ``text/template/parse``: template text into items.

Same items, trim-marker rules (``{{- `` and `` -}}`` need the space), comment rules and error messages
as Go's ``lex.go``. Lexing stops at the first error, which becomes an ``ERROR`` item the parser reports.
"""

from __future__ import annotations

import bisect
import unicodedata
from dataclasses import dataclass

LEFT, RIGHT = "{{", "}}"
LEFT_COMMENT, RIGHT_COMMENT = "/*", "*/"

# item kinds
ERROR, EOF, TEXT, LEFT_DELIM, RIGHT_DELIM = "error", "EOF", "text", "leftDelim", "rightDelim"
BOOL, CHAR, CHAR_CONSTANT, COMPLEX, ASSIGN, DECLARE = "bool", "char", "charconst", "complex", "assign", "declare"
FIELD, IDENTIFIER, LEFT_PAREN, NUMBER, PIPE, RAW_STRING = "field", "identifier", "(", "number", "pipe", "raw"
RIGHT_PAREN, SPACE, STRING, VARIABLE = ")", "space", "string", "variable"
KEYWORDS = {"block", "break", "continue", "define", "else", "end", "if", "range", "nil", "template", "with", "."}
DOT, NIL = ".", "nil"


@dataclass(frozen=True)
class Item:
    """One lexed item: kind, byte-free position (character offset), text and 1-based line."""

    kind: str
    pos: int
    val: str
    line: int

    def __str__(self) -> str:
        # Go's item.String(): used in "unexpected X in Y" parse errors
        if self.kind == EOF:
            return "EOF"
        if self.kind == ERROR:
            return self.val
        if self.kind in KEYWORDS:
            return f"<{self.val}>"
        if len(self.val) > 10:
            return go_quote_prefix(self.val, 10) + "..."
        return go_quote_prefix(self.val, len(self.val))


def go_quote_prefix(s: str, n: int) -> str:
    """Go's ``%.Nq``: the first ``n`` characters quoted."""
    from tsdb.gotemplate.gofmt import quote
    return quote(s[:n])


def is_space(c: str) -> bool:
    return c in " \t\r\n"


def is_alnum(c: str) -> bool:
    return c == "_" or c.isalpha() or unicodedata.category(c) == "Nd" if c else False


def _has_left_trim(s: str, i: int) -> bool:
    return len(s) >= i + 2 and s[i] == "-" and is_space(s[i + 1])


def _has_right_trim(s: str, i: int) -> bool:
    return len(s) >= i + 2 and is_space(s[i]) and s[i + 1] == "-"


class Lexer:
    """Lex ``text``; ``break_ok``/``continue_ok`` are false when functions of those names exist."""

    def __init__(self, text: str, break_ok: bool = True, continue_ok: bool = True) -> None:
        self.text = text
        self.break_ok = break_ok
        self.continue_ok = continue_ok
        self.items: list[Item] = []
        self._newlines = [i for i, c in enumerate(text) if c == "\n"]
        self.pos = 0
        self.start = 0
        self.paren_depth = 0
        self.inside = False

    def line_at(self, pos: int) -> int:
        return 1 + bisect.bisect_left(self._newlines, pos)

    def _emit(self, kind: str) -> None:
        self.items.append(Item(kind, self.start, self.text[self.start:self.pos], self.line_at(self.start)))
        self.start = self.pos

    def _error(self, message: str) -> bool:
        self.items.append(Item(ERROR, self.start, message, self.line_at(self.start)))
        return False

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def lex(self) -> list[Item]:
        """All items up to EOF or the first error."""
        while True:
            ok = self._inside() if self.inside else self._text()
            if not ok or (self.items[-1:] and self.items[-1].kind == EOF):
                return self.items

    def _text(self) -> bool:
        x = self.text.find(LEFT, self.pos)
        if x < 0:
            self.pos = len(self.text)
            if self.pos > self.start:
                self._emit(TEXT)
            self._emit(EOF)
            return True
        if x > self.start:
            end = x
            if _has_left_trim(self.text, x + len(LEFT)):
                end = len(self.text[self.start:x].rstrip(" \t\r\n")) + self.start
            if end > self.start:
                self.pos = end
                self._emit(TEXT)
        self.pos = self.start = x
        return self._left_delim()

    def _left_delim(self) -> bool:
        self.pos += len(LEFT)
        trim = _has_left_trim(self.text, self.pos)
        after = 2 if trim else 0
        if self.text.startswith(LEFT_COMMENT, self.pos + after):
            self.pos += after
            self.start = self.pos
            return self._comment()
        self._emit(LEFT_DELIM)
        self.inside = True
        self.pos += after
        self.start = self.pos
        self.paren_depth = 0
        return True

    def _comment(self) -> bool:
        # comments emit nothing: Go drops them unless ParseComments is set
        self.pos += len(LEFT_COMMENT)
        x = self.text.find(RIGHT_COMMENT, self.pos)
        if x < 0:
            return self._error("unclosed comment")
        self.pos = x + len(RIGHT_COMMENT)
        delim, trim = self._at_right_delim()
        if not delim:
            return self._error("comment ends before closing delimiter")
        if trim:
            self.pos += 2
        self.pos += len(RIGHT)
        if trim:
            rest = self.text[self.pos:]
            self.pos += len(rest) - len(rest.lstrip(" \t\r\n"))
        self.start = self.pos
        return True

    def _at_right_delim(self) -> tuple[bool, bool]:
        if _has_right_trim(self.text, self.pos) and self.text.startswith(RIGHT, self.pos + 2):
            return True, True
        return self.text.startswith(RIGHT, self.pos), False

    def _right_delim(self) -> bool:
        _, trim = self._at_right_delim()
        if trim:
            self.pos += 2
            self.start = self.pos
        self.pos += len(RIGHT)
        self._emit(RIGHT_DELIM)
        self.inside = False
        if trim:
            rest = self.text[self.pos:]
            self.pos += len(rest) - len(rest.lstrip(" \t\r\n"))
            self.start = self.pos
        return True

    def _inside(self) -> bool:
        """One item inside an action (Go's lexInsideAction)."""
        delim, _ = self._at_right_delim()
        if delim:
            if self.paren_depth == 0:
                return self._right_delim()
            return self._error("unclosed left paren")
        if self.pos >= len(self.text):
            return self._error("unclosed action")
        r = self.text[self.pos]
        self.pos += 1
        if is_space(r):
            self.pos -= 1
            return self._space()
        if r == "=":
            self._emit(ASSIGN)
        elif r == ":":
            if self._peek() != "=":
                return self._error("expected :=")
            self.pos += 1
            self._emit(DECLARE)
        elif r == "|":
            self._emit(PIPE)
        elif r == '"':
            return self._quote('"', "unterminated quoted string", STRING)
        elif r == "`":
            x = self.text.find("`", self.pos)
            if x < 0:
                return self._error("unterminated raw quoted string")
            self.pos = x + 1
            self._emit(RAW_STRING)
        elif r == "$":
            return self._field_or_variable(VARIABLE)
        elif r == "'":
            return self._quote("'", "unterminated character constant", CHAR_CONSTANT)
        elif r == "." and not ("0" <= self._peek() <= "9" and self._peek()):
            return self._field_or_variable(FIELD)
        elif r in "+-." or "0" <= r <= "9":
            self.pos -= 1
            return self._number()
        elif is_alnum(r):
            self.pos -= 1
            return self._identifier()
        elif r == "(":
            self.paren_depth += 1
            self._emit(LEFT_PAREN)
        elif r == ")":
            self.paren_depth -= 1
            if self.paren_depth < 0:
                return self._error("unexpected right paren")
            self._emit(RIGHT_PAREN)
        elif r.isascii() and r.isprintable():
            self._emit(CHAR)
        else:
            return self._error(f"unrecognized character in action: {_unicode_repr(r)}")
        return True

    def _space(self) -> bool:
        count = 0
        while self.pos < len(self.text) and is_space(self.text[self.pos]):
            self.pos += 1
            count += 1
        # a space followed by "-}}" belongs to the trim marker of the closing delimiter
        if _has_right_trim(self.text, self.pos - 1) and self.text.startswith(RIGHT, self.pos + 1):
            self.pos -= 1
            if count == 1:
                return self._right_delim()
        self._emit(SPACE)
        return True

    def _quote(self, close: str, message: str, kind: str) -> bool:
        while True:
            if self.pos >= len(self.text):
                return self._error(message)
            c = self.text[self.pos]
            self.pos += 1
            if c == "\\":
                if self.pos >= len(self.text) or self.text[self.pos] == "\n":
                    return self._error(message)
                self.pos += 1
            elif c == "\n":
                return self._error(message)
            elif c == close:
                break
        self._emit(kind)
        return True

    def _at_terminator(self) -> bool:
        r = self._peek()
        if r == "" or is_space(r) or r in ".,|:()":
            return True
        return self.text.startswith(RIGHT, self.pos)

    def _identifier(self) -> bool:
        while self.pos < len(self.text) and is_alnum(self.text[self.pos]):
            self.pos += 1
        word = self.text[self.start:self.pos]
        if not self._at_terminator():
            return self._error(f"bad character {_unicode_repr(self._peek())}")
        if word in KEYWORDS and word != ".":
            if (word == "break" and not self.break_ok) or (word == "continue" and not self.continue_ok):
                self._emit(IDENTIFIER)
            else:
                self._emit(word)
        elif word in ("true", "false"):
            self._emit(BOOL)
        else:
            self._emit(IDENTIFIER)
        return True

    def _field_or_variable(self, kind: str) -> bool:
        if self._at_terminator():
            self._emit(VARIABLE if kind == VARIABLE else DOT)
            return True
        while self.pos < len(self.text) and is_alnum(self.text[self.pos]):
            self.pos += 1
        if not self._at_terminator():
            return self._error(f"bad character {_unicode_repr(self._peek())}")
        self._emit(kind)
        return True

    def _accept(self, valid: str) -> bool:
        if self.pos < len(self.text) and self.text[self.pos] in valid:
            self.pos += 1
            return True
        return False

    def _accept_run(self, valid: str) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in valid:
            self.pos += 1

    def _scan_number(self) -> bool:
        self._accept("+-")
        digits = "0123456789_"
        if self._accept("0"):
            if self._accept("xX"):
                digits = "0123456789abcdefABCDEF_"
            elif self._accept("oO"):
                digits = "01234567_"
            elif self._accept("bB"):
                digits = "01_"
        self._accept_run(digits)
        if self._accept("."):
            self._accept_run(digits)
        if len(digits) == 11 and self._accept("eE"):
            self._accept("+-")
            self._accept_run("0123456789_")
        if len(digits) == 23 and self._accept("pP"):
            self._accept("+-")
            self._accept_run("0123456789_")
        self._accept("i")
        if self._peek() and is_alnum(self._peek()):
            self.pos += 1
            return False
        return True

    def _number(self) -> bool:
        if not self._scan_number():
            return self._error(f"bad number syntax: {go_quote_prefix(self.text[self.start:self.pos], 10**9)}")
        if self._peek() in ("+", "-") and self._peek():
            if not self._scan_number() or self.text[self.pos - 1] != "i":
                return self._error(f"bad number syntax: {go_quote_prefix(self.text[self.start:self.pos], 10**9)}")
            self._emit(COMPLEX)
            return True
        self._emit(NUMBER)
        return True


def _unicode_repr(c: str) -> str:
    """Go's ``%#U``: ``U+0041 'A'``."""
    if not c:
        return "U+FFFFFFFF"
    code = ord(c)
    return f"U+{code:04X} '{c}'" if c.isprintable() else f"U+{code:04X}"
