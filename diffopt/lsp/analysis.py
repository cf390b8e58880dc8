"""What the language server knows about a document, without the server.

Pure functions of a document's text (and its file path, which relative
``csv(...)`` paths resolve against): the checker's diagnostics with LSP
ranges, the hover text and the definition of the name under the cursor, and
the formatted text. Nothing here imports pygls, so all of it is tested
directly; ``diffopt.lsp.server`` only converts to and from protocol types.

A diagnostic is a plain dict: ``range`` (``((line, character), (line,
character))``, 0-based, UTF-16), ``severity`` (1 error, 3 information),
``message`` (the CLI's first line without its ``file:line:col: error:``
prefix, then any ``note:`` and ``help:`` lines, as the CLI prints them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from diffopt.errors import DopError
from diffopt.lsp.positions import Range, from_lsp, lines_of, span_range

MAX_CHECKED_BYTES = 1 << 20  # over this, only syntax and names are checked
ERROR, INFORMATION = 1, 3
_NAME = re.compile(r"[^\W\d]\w*")


@dataclass
class Analysis:
    """One document's text, parsed and checked as far as it goes."""

    text: str
    path: str
    encoding: str = "utf-16"  # how LSP characters are counted (see diffopt.lsp.positions)
    lines: list = field(default_factory=list)
    program: object = None  # the AST Program, when the text parses
    session: object = None  # the diffopt Session, when the whole check passes
    diagnostics: list = field(default_factory=list)

    def start_values(self) -> dict:
        """Top-level name -> its value at the start point (empty if unknown)."""
        return self.session.start_names if self.session is not None else {}


def analyze(text: str, path: str, encoding: str = "utf-16") -> Analysis:
    """Parse and check ``text`` as the file ``path`` would be by ``diffopt check``."""
    from diffopt import api
    from diffopt.sema import check_names
    from diffopt.syntax.parser import decode, parse

    result = Analysis(text, path, encoding, lines_of(text))
    try:
        source = decode(text.encode("utf-8"), path)
        if not source.text.strip():
            api.parse_source(source)  # the CLI's "the file is empty" error
        result.program = parse(source)  # kept for hover and definition even if names fail
        check_names(result.program)
        if len(text.encode("utf-8")) > MAX_CHECKED_BYTES:
            result.diagnostics.append(_diagnostic(
                ((0, 0), (0, 0)), INFORMATION,
                "the file is over 1 MB: only its syntax and names were checked "
                "(run 'diffopt check' for the rest)"))
            return result
        result.session = _check(source, result.program)
    except DopError as error:
        result.diagnostics.append(error_diagnostic(error, result.lines, path, encoding))
    except RecursionError:
        result.diagnostics.append(_diagnostic(((0, 0), (0, 0)), ERROR,
                                              "the file is nested too deeply to check"))
    except Exception as exc:  # noqa: BLE001  an internal error must not stop the server
        result.diagnostics.append(_diagnostic(
            ((0, 0), (0, 0)), ERROR, f"internal error in diffopt: {type(exc).__name__}: {exc}"))
    return result


def diagnostics(text: str, path: str, encoding: str = "utf-16") -> list[dict]:
    """The checker's diagnostics of ``text``; an empty list for a clean file."""
    return analyze(text, path, encoding).diagnostics


def _check(source, program):
    """The checking pass as ``api.load`` runs it (no --set, no --data, seed 0)."""
    import numpy as np

    from diffopt.check.passes import check as check_program
    from diffopt.check.problem import RunSettings
    from diffopt.gcpause import gc_paused
    from diffopt.session import Session

    with gc_paused(), np.errstate(all="ignore"):
        problem, first = check_program(source, program, RunSettings(0, {}, {}, None))
    return Session(problem, first)


def error_diagnostic(error: DopError, lines: list[str], path: str,
                     encoding: str = "utf-16") -> dict:
    """One ``DopError`` as one diagnostic, at its span in this document."""
    span = error.span
    message = error.message
    if span is None:
        where: Range = ((0, 0), (0, 0))
    elif span.source.name != path:  # in another file (a CSV table): say where
        where = ((0, 0), (0, 0))
        message = f"{message} (at {span.location})"
    else:
        where = span_range(lines, span, encoding)
    extra = [f"note: {note}" for note in error.notes]
    if error.hint:
        extra.append(f"help: {error.hint}")
    return _diagnostic(where, ERROR, "\n".join([message, *extra]))


def _diagnostic(where: Range, severity: int, message: str) -> dict:
    return {"range": where, "severity": severity, "message": message, "source": "diffopt"}


# ----------------------------------------------------------------- names


def name_at(lines: list[str], line: int, character: int,
            encoding: str = "utf-16") -> tuple[str, int] | None:
    """(name, 0-based line) under an LSP position, outside comments and strings."""
    row, index = from_lsp(lines, line, character, encoding)
    if not lines:
        return None
    text = lines[row]
    code = _code_part(text)
    for match in _NAME.finditer(code):
        if match.start() <= index <= match.end():
            return match.group(), row
    return None


def _code_part(line: str) -> str:
    """The line with its comment removed and string contents blanked."""
    out, in_string = [], False
    for ch in line:
        if ch == '"':
            in_string = not in_string
            out.append(ch)
        elif in_string:
            out.append(" ")
        elif ch == "#":
            break
        else:
            out.append(ch)
    return "".join(out)


def _declarations(program) -> dict:
    """Top-level name -> (kind, name span), first declaration wins."""
    from diffopt.sema import top_level_declarations

    found: dict = {}
    for kind, name, span in top_level_declarations(program):
        found.setdefault(name, (kind, span))
    return found


def _offset(lines: list[str], row: int, index: int) -> int:
    return sum(len(text) + 1 for text in lines[:row]) + index


def _local_binding(analysis: Analysis, name: str, row: int, character: int):
    """The span of a def parameter or loop variable ``name`` in scope at the cursor."""
    from diffopt.syntax import ast

    if analysis.program is None:
        return None
    offset = _offset(analysis.lines,
                     *from_lsp(analysis.lines, row, character, analysis.encoding))
    stack = list(analysis.program.statements)
    while stack:
        stmt = stack.pop()
        span = getattr(stmt, "span", None)
        if span is None or not span.start <= offset <= span.end:
            continue
        if isinstance(stmt, ast.Def) and name in stmt.params:
            after = stmt.name_span.end - span.start
            return _word_span(span, name, after)
        if isinstance(stmt, ast.For):
            if stmt.var == name:
                return _word_span(span, name, 0)
            stack.extend(stmt.body)
        elif isinstance(stmt, ast.If):
            stack.extend(stmt.body)
            stack.extend(stmt.orelse or ())
    return None


def _word_span(span, name: str, after: int):
    """The span of the first whole-word ``name`` in ``span`` from offset ``after``."""
    match = re.compile(rf"(?<!\w){re.escape(name)}(?!\w)").search(span.text, after)
    if match is None:
        return None
    start = span.start + match.start()
    return span.source.span(start, start + len(name))


def definition(analysis: Analysis, line: int, character: int) -> Range | None:
    """The range of the declaration of the name at an LSP position, in this document."""
    found = name_at(analysis.lines, line, character, analysis.encoding)
    if found is None or analysis.program is None:
        return None
    name = found[0]
    local = _local_binding(analysis, name, line, character)
    if local is not None:
        return span_range(analysis.lines, local, analysis.encoding)
    declared = _declarations(analysis.program).get(name)
    if declared is None or declared[1] is None:
        return None
    return span_range(analysis.lines, declared[1], analysis.encoding)


# ----------------------------------------------------------------- hover


def hover(analysis: Analysis, line: int, character: int) -> str | None:
    """Markdown for the name at an LSP position: kind, shape, value where constant."""
    from diffopt.ops import library  # noqa: F401  (fills BUILTINS)
    from diffopt.ops.registry import BUILTINS, CONSTANTS, SPECIAL_FORMS

    found = name_at(analysis.lines, line, character, analysis.encoding)
    if found is None:
        return None
    name = found[0]
    if analysis.program is not None:
        if _local_binding(analysis, name, line, character) is not None:
            return f"`{name}`: a local name (a def parameter or loop variable)"
        declared = _declarations(analysis.program).get(name)
        if declared is not None:
            return _declared_hover(analysis, name, declared[0])
    if name in BUILTINS:
        builtin = BUILTINS[name]
        signature = ", ".join(builtin.positional) + (", ..." if builtin.variadic else "")
        doc = (builtin.doc or "").strip().splitlines()
        return "\n\n".join([f"`{name}({signature})`: built-in function", *doc[:1]])
    if name in SPECIAL_FORMS:
        return f"`{name}`: built-in function\n\n{SPECIAL_FORMS[name].doc}"
    if name in CONSTANTS:
        return f"`{name}`: built-in constant = {_compact(CONSTANTS[name])}"
    return None


def _declared_hover(analysis: Analysis, name: str, kind: str) -> str:
    head = f"{kind} `{name}`"
    if kind == "def":
        node = next(s for s in analysis.program.statements
                    if getattr(s, "name", None) == name and hasattr(s, "params"))
        return f"def `{name}({', '.join(node.params)})`: a user function"
    if kind == "option":
        return f"option `{name}`"
    if analysis.session is None:
        return f"{head}\n\n(shape unknown until the file checks cleanly)"
    parts = [head]
    if kind == "param":
        spec = next(p for p in analysis.session.problem.params if p.name == name)
        parts.append(f"shape {_shape(spec.shape)}")
        parts.append(f"start {_compact(spec.start)}")
        return ": ".join(parts[:1]) + "\n\n" + ", ".join(parts[1:])
    value = analysis.start_values().get(name)
    if value is None:
        return head
    columns = getattr(value, "columns", None)
    if columns is not None:
        rows = {len(c) for c in columns.values()}
        return (f"{head}: a table of {len(columns)} column(s), {max(rows, default=0)} row(s)"
                f"\n\ncolumns: {', '.join(columns)}")
    import numpy as np

    array = np.asarray(getattr(value, "value", value), dtype=np.float64)
    text = f"{head}\n\nshape {_shape(array.shape)}"
    if kind == "const":
        text += f", value {_compact(array)}"
    elif kind in ("let", "var") and array.size <= 10:
        text += f", at the start point {_compact(array)}"
    return text


def _shape(shape) -> str:
    from diffopt.ops.registry import format_shape

    return format_shape(tuple(shape))


def _compact(value) -> str:
    """A value in a line: ``1.5``, ``[1, 2, 3]``, or its first entries and a count."""
    import numpy as np

    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 0:
        return f"{float(array):.6g}"
    if array.size > 10:
        head = ", ".join(f"{v:.6g}" for v in array.ravel()[:5])
        return f"[{head}, ...] ({array.size} entries)"
    return np.array2string(array, separator=", ", formatter={"float_kind": "{:.6g}".format})


# -------------------------------------------------------------- formatting


def format_text(text: str, path: str) -> str | None:
    """The canonical layout of ``text`` (as ``diffopt fmt``), or None on a syntax error."""
    from diffopt.syntax.fmt import format_program
    from diffopt.syntax.parser import decode, parse

    try:
        source = decode(text.encode("utf-8"), path)
        return format_program(parse(source), source)
    except DopError:
        return None
