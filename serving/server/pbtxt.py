"""Parse config.pbtxt as protobuf text, accepting Triton fields our ModelConfig does not declare.

protobuf's own `allow_unknown_field` cannot skip every shape Triton configs use (lists of messages
inside an unknown field) and does not say what it skipped. So the text is first walked token by
token, guided by the message descriptors: unknown fields are cut out and named by dotted path
(`optimization`, `instance_group.rate_limiter`), and what remains is parsed strictly.
"""

from __future__ import annotations

from google.protobuf import text_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor

_OPEN = ("{", "<", "[")
_CLOSE = ("}", ">", "]")


def parse(text: str, message) -> tuple[list[str], set[str]]:
    """Merge `text` into `message`.

    Returns the paths of the unknown fields that were skipped, and the names of the top-level
    fields the text mentions (proto3 cannot tell an explicit `max_batch_size: 0` from an absent one).
    """
    tokens = _tokens(text)
    walker = _Walker(tokens)
    walker.message(message.DESCRIPTOR, "", top=True)
    text_format.Parse(" ".join(walker.kept), message)
    return walker.unknown, walker.top_level


def _tokens(text: str) -> list[str]:
    tokenizer = text_format.Tokenizer(text.splitlines())
    out = []
    while not tokenizer.AtEnd():
        out.append(tokenizer.token)
        tokenizer.NextToken()
    return out


class _Walker:
    def __init__(self, tokens: list[str]):
        self.tokens = tokens
        self.pos = 0
        self.kept: list[str] = []
        self.unknown: list[str] = []
        self.top_level: set[str] = set()

    def _peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self) -> str:
        if self.pos >= len(self.tokens):
            raise text_format.ParseError("unexpected end of config text")
        token = self.tokens[self.pos]
        self.pos += 1
        self.kept.append(token)
        return token

    def message(self, descriptor: Descriptor, prefix: str, top: bool = False) -> None:
        while self._peek() is not None and self._peek() not in _CLOSE:
            name = self.tokens[self.pos]
            field = descriptor.fields_by_name.get(name)
            if top:
                self.top_level.add(name)
            if field is None:
                self.unknown.append(prefix + name)
                start = len(self.kept)
                self._take()
                self._value()
                del self.kept[start:]
                continue
            self._take()
            if field.type == FieldDescriptor.TYPE_MESSAGE:
                if self._peek() == ":":
                    self._take()
                self._messages(field.message_type, f"{prefix}{name}.")
            else:
                self._value()
            if self._peek() in (",", ";"):
                self._take()

    def _messages(self, descriptor: Descriptor, prefix: str) -> None:
        """One message value `{...}`, or a list of them `[{...}, {...}]`."""
        if self._peek() == "[":
            self._take()
            while self._peek() not in ("]", None):
                self._messages(descriptor, prefix)
                if self._peek() == ",":
                    self._take()
            self._take()
            return
        if self._peek() not in ("{", "<"):
            raise text_format.ParseError(f"expected '{{' to open {prefix.rstrip('.')!r}, got {self._peek()!r}")
        self._take()
        self.message(descriptor, prefix)
        self._take()

    def _value(self) -> None:
        """A scalar, a list of scalars, or (for unknown fields) a whole nested value."""
        if self._peek() == ":":
            self._take()
        if self._peek() in _OPEN:
            depth = 0
            while True:
                token = self._take()
                depth += token in _OPEN
                depth -= token in _CLOSE
                if depth == 0:
                    break
        else:
            # A scalar; adjacent string literals form one value.
            is_string = self._take()[:1] in ("'", '"')
            while is_string and (self._peek() or "")[:1] in ("'", '"'):
                self._take()
        if self._peek() in (",", ";"):
            self._take()
