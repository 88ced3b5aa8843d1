"""Vetting of tenant regexes: accept a pattern only if its matching work provably stays small.

Tenant patterns are admin input run over mail written by strangers. Python's `re` backtracks, has
no timeout, holds the GIL while matching and cannot be interrupted, and a subprocess per request
would cost more than the whole redaction budget; so the guard is static. A pattern is accepted
when its work per start position is bounded by a small constant, which makes a scan linear in
the text.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

# Measured worst case near the cost cap, on 20 KB of input crafted against the pattern: ~25 ms;
# an ordinary pattern on ordinary mail: well under 1 ms. (If google-re2, a linear-time engine,
# becomes a dependency, these caps can go; the no-backreference rule would stay.)
MAX_MATCH_WIDTH = 256
MAX_MATCH_COST = 5_000  # backtracking paths x width, per start position
_QUANTIFIER_RE = re.compile(r"\{(\d*)(,?)(\d*)\}")
_ESCAPE_LENGTHS = {"x": 4, "u": 6, "U": 10}


class UnsafePattern(ValueError):
    """A tenant regex whose matching time cannot be bounded; the message says why."""


@dataclass
class _Atom:
    paths: int = 1                 # ways the engine may try to match it
    width: int = 1                 # longest text it can match
    atomic: bool = False
    char: str | None = None        # regex of the one character it matches per repetition
    literal: str | None = None     # the fixed character it is, if it is one


@dataclass
class _Branch:
    closed: int = 0                # paths of segments ended by a separator: these add up
    paths: int = 1                 # paths of the current segment: these multiply
    width: int = 0
    repeated_char: str | None = None  # the variable run just before, if of single characters


@dataclass
class _Frame:
    lookaround: bool = False
    atomic: bool = False
    branches: list[_Branch] = field(default_factory=lambda: [_Branch()])
    pending: _Atom | None = None   # the last atom, held until we know its quantifier

    def commit(self, flags: int) -> None:
        atom, branch = self.pending, self.branches[-1]
        if atom is None:
            return
        # "[A-Z]{1,20}-" : a run can't swallow a separator it can't match, so backtracking
        # the run never re-tries what follows: the segments' paths add instead of multiply.
        if atom.literal and branch.repeated_char and not _matches(branch.repeated_char,
                                                                  atom.literal, flags):
            branch.closed, branch.paths = branch.closed + branch.paths, 1
        branch.paths *= atom.paths
        branch.width += atom.width
        branch.repeated_char = atom.char if atom.paths > 1 else None
        self.pending = None

    def close(self, flags: int) -> _Atom:
        self.commit(flags)
        width = 0 if self.lookaround else max(b.width for b in self.branches)
        return _Atom(sum(b.closed + b.paths for b in self.branches), width, self.atomic)


def match_bounds(pattern: str, flags: int = 0) -> tuple[int, int]:
    """(paths, width) of a compilable regex; UnsafePattern if its work is unbounded or explosive.

    Refused: backreferences and conditionals; unbounded repetition (*, +, {n,}), which lets each
    start position scan the rest of the text; a repeated group holding a quantifier or an
    alternation, e.g. (a+)+ or (a|b){2,5}, the shape of exponential backtracking.
    """
    stack = [_Frame()]
    i = 0
    while i < len(pattern):
        ch, frame = pattern[i], stack[-1]
        if ch == "(" and pattern.startswith("(?#", i):
            i = pattern.index(")", i) + 1
        elif ch == "(":
            if pattern.startswith(("(?P=", "(?("), i):
                raise UnsafePattern("backreferences and conditional groups are not allowed")
            frame.commit(flags)
            stack.append(_Frame(lookaround=pattern.startswith(("(?=", "(?!", "(?<=", "(?<!"), i),
                                atomic=pattern.startswith("(?>", i)))
            i = _group_body(pattern, i)
        elif ch == ")":
            closed = stack.pop().close(flags)
            stack[-1].commit(flags)
            stack[-1].pending, i = closed, i + 1
        elif ch == "|":
            frame.commit(flags)
            frame.branches.append(_Branch())
            i += 1
        elif (quantifier := _quantifier_at(pattern, i)) is not None:
            low, high, i = quantifier
            possessive = pattern[i:i + 1] == "+"
            i += 1 if pattern[i:i + 1] in ("+", "?") else 0
            frame.pending = _repeat(frame.pending or _Atom(1, 0), low, high, possessive)
        else:
            frame.commit(flags)
            end = _atom_end(pattern, i)
            source = pattern[i:end]
            zero = source in ("^", "$", r"\A", r"\Z", r"\b", r"\B")
            plain = source not in ".^$" and (len(source) == 1 or (
                len(source) == 2 and source[0] == "\\" and not source[1].isalnum()))
            literal = source[-1] if plain else None
            frame.pending = _Atom(1, 0 if zero else 1, char=None if zero else source,
                                  literal=literal)
            i = end
    top = stack[0].close(flags)
    if top.width > MAX_MATCH_WIDTH:
        raise UnsafePattern(f"it can match more than {MAX_MATCH_WIDTH} characters")
    if top.paths * top.width > MAX_MATCH_COST:
        raise UnsafePattern("it allows too many ways to match; narrow the {m,n} ranges or "
                            "put a separator between them")
    return top.paths, top.width


def _repeat(atom: _Atom, low: int, high: float, possessive: bool) -> _Atom:
    if high == float("inf"):
        raise UnsafePattern("unbounded repetition (*, + or {n,}) is not allowed; give a "
                            "maximum, e.g. \\d{1,12}")
    if high > 1 and atom.paths > 1 and not (atom.atomic or possessive):
        raise UnsafePattern("a repeated group contains a quantifier or an alternation, "
                            "e.g. (a+)+ or (a|b){2,5}")
    count = int(high)
    choices = 1 if possessive else count - low + 1
    return _Atom(atom.paths * choices, atom.width * count, atom.atomic, char=atom.char)


def _matches(char_regex: str, ch: str, flags: int) -> bool:
    try:
        return re.fullmatch(char_regex, ch, flags) is not None
    except re.error:
        return True  # unknown: assume the worst


def _atom_end(pattern: str, i: int) -> int:
    """End of the single-character atom (literal, escape, class) starting at `i`."""
    if pattern[i] == "[":
        j = i + 1 + (pattern[i + 1:i + 2] == "^")
        j += pattern[j:j + 1] == "]"
        while j < len(pattern) and pattern[j] != "]":
            j += 2 if pattern[j] == "\\" else 1
        return j + 1
    if pattern[i] != "\\":
        return i + 1
    nxt = pattern[i + 1:i + 2]
    if nxt in set("123456789"):
        raise UnsafePattern("backreferences are not allowed")
    if nxt == "N" and pattern[i + 2:i + 3] == "{":
        return pattern.index("}", i) + 1
    return i + _ESCAPE_LENGTHS.get(nxt, 2)


def _quantifier_at(pattern: str, i: int) -> tuple[int, float, int] | None:
    """(min, max, end) of a quantifier starting at `i`, or None; "{" without digits is literal."""
    ch = pattern[i]
    if ch in "*+?":
        return (1 if ch == "+" else 0), (1 if ch == "?" else float("inf")), i + 1
    m = _QUANTIFIER_RE.match(pattern, i) if ch == "{" else None
    if m is None or not (m.group(1) or m.group(2)):
        return None
    low = int(m.group(1) or 0)
    high = (float(m.group(3)) if m.group(3) else float("inf")) if m.group(2) else float(low)
    return low, high, m.end()


def _group_body(pattern: str, i: int) -> int:
    """Index just past a group's opening: "(", "(?:", "(?P<name>", "(?<=", "(?i:" ..."""
    i += 1
    if pattern[i:i + 1] != "?":
        return i
    i += 1
    if pattern.startswith("P<", i):
        return pattern.index(">", i) + 1
    if pattern.startswith(("<=", "<!"), i):
        return i + 2
    if pattern[i:i + 1] in ("=", "!", ">"):
        return i + 1
    while i < len(pattern) and pattern[i] not in ":)":  # inline flags: "(?i)" or "(?i:"
        i += 1
    return i + 1 if pattern[i:i + 1] == ":" else i
