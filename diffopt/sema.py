"""Static checks of a parsed program, before anything is evaluated.

Owns the rules that need no values: every name used is declared before its
use (with "did you mean" from the names in scope and the built-ins), nothing
is declared twice or shadows a built-in, ``def``s do not recurse, ``break``
sits in a loop, top-level-only statements are at top level, and there is
exactly one objective. Shapes, arity and constness are checked by running
the program abstractly (diffopt/program.py ``check``). Walks are iterative.
"""

from __future__ import annotations

from diffopt.errors import DopNameError, DopTypeError, did_you_mean
from diffopt.ops import library  # noqa: F401  (fills BUILTINS)
from diffopt.ops.registry import BUILTINS, CONSTANTS, SPECIAL_FORMS
from diffopt.syntax import ast

_SPECIAL_FUNCTIONS = tuple(SPECIAL_FORMS)
_TOP_LEVEL_ONLY = {"const", "data", "param", "def", "option", "var", "objective", "constraint"}


def _statement_kind(stmt) -> str:
    if isinstance(stmt, ast.Decl):
        return stmt.kind
    return {ast.ParamDecl: "param", ast.Def: "def", ast.Objective: "objective",
            ast.Constraint: "constraint"}.get(type(stmt), "")


def check_names(program: ast.Program) -> None:
    """Raise the first name or structure error in ``program`` (source order)."""
    declared: dict[str, tuple] = {}  # name -> (kind, span) of top-level declarations
    later = _all_declarations(program)
    objectives = []
    # (statements, index, depth in loops, local names of the block)
    frames = [[program.statements, 0, 0, {}]]
    loop_bodies: set[int] = set()  # ids of the statement tuples that are loop bodies
    while frames:
        frame = frames[-1]
        statements, index, loops, local = frame
        if index >= len(statements):
            frames.pop()
            continue
        frame[1] += 1
        stmt = statements[index]
        top = len(frames) == 1
        kind = _statement_kind(stmt)
        if kind in _TOP_LEVEL_ONLY and not top:
            word = {"objective": "minimize/maximize", "constraint": "subject to"}.get(kind, kind)
            raise DopTypeError(f"'{word}' is only allowed at the top level, not inside a block",
                               stmt.span)
        scope = _Scope(declared, local, later)
        if isinstance(stmt, ast.Decl):
            for binding in stmt.bindings:
                if stmt.kind != "option":
                    scope.check_expr(binding.value)
                    scope.declare(binding.name, stmt.kind, binding.name_span, top)
        elif isinstance(stmt, ast.ParamDecl):
            for item in stmt.items:
                for part in (*(item.dims or ()), item.lower, item.upper):
                    if part is not None:
                        scope.check_expr(part)
                if item.start is not None:
                    if item.random_start and isinstance(item.start, ast.Call):
                        for arg in item.start.args:
                            scope.check_expr(arg)
                    else:
                        scope.check_expr(item.start)
                scope.declare(item.name, "param", item.name_span, top)
        elif isinstance(stmt, ast.Def):
            _check_def(stmt, scope)
            scope.declare(stmt.name, "def", stmt.name_span, top)
        elif isinstance(stmt, ast.Objective):
            objectives.append(stmt)
            if len(objectives) > 1:
                raise DopTypeError(
                    "a problem has exactly one objective; this is a second one",
                    stmt.span,
                    notes=[f"the first is at {objectives[0].span.location}"],
                )
            scope.check_expr(stmt.expr)
        elif isinstance(stmt, ast.Constraint):
            scope.check_expr(stmt.expr, condition=True)
        elif isinstance(stmt, ast.Assign):
            target = scope.resolve(stmt.name, stmt.name_span)
            if target != "var":
                raise DopTypeError(
                    f"cannot assign to '{stmt.name}': it is a {target}, not a var",
                    stmt.name_span,
                    hint=f"declare it with 'var {stmt.name} = ...' to change it in a loop",
                )
            for item in stmt.index or ():
                scope.check_expr(item)
            scope.check_expr(stmt.value)
        elif isinstance(stmt, ast.For):
            scope.check_expr(stmt.range.start)
            scope.check_expr(stmt.range.stop)
            frames.append([stmt.body, 0, loops + 1, {**local, stmt.var: "loop index"}])
            loop_bodies.add(id(stmt.body))
        elif isinstance(stmt, ast.If):
            scope.check_expr(stmt.test, condition=True)
            if stmt.orelse:
                frames.append([stmt.orelse, 0, loops, dict(local)])
            frames.append([stmt.body, 0, loops, dict(local)])
        elif isinstance(stmt, ast.Break):
            if loops == 0:
                raise DopTypeError("'break' outside a loop", stmt.span)
            if stmt.when is not None:
                _check_break_when(stmt, id(statements) in loop_bodies,
                                  any(s.when is not None for s in statements[:index]
                                      if isinstance(s, ast.Break)))
                scope.check_expr(stmt.when, condition=True)
    if not objectives:
        end = program.span.source.span(len(program.span.source.text)) if program.span else None
        raise DopTypeError("the problem has no objective", end,
                           hint="add 'minimize <expression>' or 'maximize <expression>'")


def _check_break_when(stmt: ast.Break, in_loop_body: bool, second: bool) -> None:
    """``break when a < b`` stands directly in a loop body, once, and crosses one
    comparison."""
    if not in_loop_body:
        raise DopTypeError("'break when' must stand directly in a loop's body, not inside "
                           "an 'if'", stmt.span,
                           hint="put it in the loop's body itself, usually last: it "
                           "interpolates between two passes through the body")
    if second:
        raise DopTypeError("a loop's body has at most one 'break when'", stmt.span,
                           hint="combine the exits into one comparison, e.g. break when "
                           "minimum(py, 10 - px) < 0")
    test = stmt.when
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1
            and test.ops[0] in ("<", "<=", ">", ">=")):
        raise DopTypeError("'break when' needs one comparison with <, <=, > or >=",
                           test.span, hint="for example: break when py < 0 (the step where "
                           "py - 0 changes sign is interpolated)")


def top_level_declarations(program: ast.Program) -> list[tuple[str, str, object]]:
    """(kind, name, name span) of every top-level declaration, in source order:
    kinds "const", "data", "let", "var", "option", "param" and "def"."""
    found = []
    for stmt in program.statements:
        if isinstance(stmt, ast.Decl):
            found.extend((stmt.kind, b.name, b.name_span) for b in stmt.bindings)
        elif isinstance(stmt, ast.ParamDecl):
            found.extend(("param", item.name, item.name_span) for item in stmt.items)
        elif isinstance(stmt, ast.Def):
            found.append(("def", stmt.name, stmt.name_span))
    return found


def declarations_of(program: ast.Program, kinds: tuple[str, ...]) -> list[str]:
    """Names declared at the top level with one of ``kinds`` ("const", "param", ...)."""
    return [name for kind, name, _ in top_level_declarations(program) if kind in kinds]


def _all_declarations(program: ast.Program) -> dict:
    found: dict = {}
    for _, name, span in top_level_declarations(program):
        found.setdefault(name, span)
    return found


def _check_def(stmt: ast.Def, scope: _Scope):
    seen = set()
    for p in stmt.params:
        if p in seen:
            raise DopNameError(f"parameter '{p}' appears twice in '{stmt.name}'", stmt.span)
        seen.add(p)
    inner = _Scope(scope.declared, {**scope.local, **{p: "def argument" for p in stmt.params}},
                   scope.later, defining=stmt)
    inner.check_expr(stmt.body)


class _Scope:
    def __init__(self, declared, local, later, defining: ast.Def | None = None):
        self.declared = declared
        self.local = local
        self.later = later
        self.defining = defining

    def declare(self, name, kind, span, top):
        if name in CONSTANTS or name in BUILTINS or name in _SPECIAL_FUNCTIONS:
            what = "constant" if name in CONSTANTS else "function"
            raise DopNameError(f"'{name}' is a built-in {what} and cannot be redefined", span)
        if name in self.declared or name in self.local:
            previous = self.declared.get(name)
            note = [f"'{name}' was first declared at {previous[1].location}"] if previous else []
            raise DopNameError(f"'{name}' is already defined", span, notes=note)
        if top:
            self.declared[name] = (kind, span)
        else:
            self.local[name] = kind

    def resolve(self, name, span) -> str:
        if name in self.local:
            return self.local[name]
        if name in self.declared:
            return self.declared[name][0]
        if name in CONSTANTS:
            return "built-in constant"
        if name in BUILTINS or name in _SPECIAL_FUNCTIONS:
            return "built-in function"
        if self.defining is not None and name == self.defining.name:
            raise DopTypeError(f"'{name}' calls itself: a def cannot be recursive", span)
        if name in self.later:
            raise DopNameError(f"'{name}' is used before it is declared", span,
                               notes=[f"it is declared at {self.later[name].location}"])
        candidates = list(self.local) + list(self.declared) + list(CONSTANTS) + list(BUILTINS)
        raise DopNameError(f"unknown name '{name}'", span, hint=did_you_mean(name, candidates))

    def check_expr(self, root, condition: bool = False) -> None:
        """Check names in an expression; ``condition``: root may be a comparison."""
        stack = [(root, self.local, condition)]
        push = stack.append
        while stack:
            node, local, cond_ok = stack.pop()
            kind = type(node)
            # Shortcuts for the commonest nodes (a 10^5-term sum is all
            # Binary, Call, Name and Number), pushing exactly what the
            # generic ``ast.children`` branch at the end would.
            if kind is ast.Binary:
                push((node.left, local, False))
                push((node.right, local, False))
                continue
            if kind is ast.Number:
                continue
            if kind in (ast.Compare, ast.BoolOp, ast.Not) and not cond_ok:
                raise DopTypeError(
                    "a comparison is a condition, not a number: use it in 'if', where(...) "
                    "or 'subject to'",
                    node.span,
                    hint="for 0/1 values write where(c, 1, 0)",
                )
            if kind in (ast.BoolOp, ast.Not):
                stack.extend((child, local, True) for child in ast.children(node))
                continue
            if kind is ast.Cond:
                stack.append((node.test, local, True))
                stack.append((node.body, local, False))
                stack.append((node.orelse, local, False))
                continue
            if kind is ast.Name:
                scope = self if local is self.local else _Scope(
                    self.declared, local, self.later, self.defining)
                kind_of = scope.resolve(node.id, node.span)
                if kind_of in ("def", "built-in function"):
                    raise DopTypeError(f"'{node.id}' is a function; call it with ( )", node.span)
            elif kind is ast.Call:
                is_where = isinstance(node.func, ast.Name) and node.func.id == "where"
                stack.extend((a, local, is_where and i == 0) for i, a in enumerate(node.args))
                stack.extend((k.value, local, False) for k in node.keywords)
                if isinstance(node.func, ast.Name):
                    self._check_function(node.func, local)
                else:
                    stack.append((node.func, local, False))
            elif kind is ast.Comprehension:
                inner = dict(local)
                for clause in node.clauses:
                    if isinstance(clause, ast.CompFor):
                        stack.append((clause.range.start, dict(inner), False))
                        stack.append((clause.range.stop, dict(inner), False))
                        inner[clause.var] = "comprehension index"
                    else:
                        stack.append((clause.test, dict(inner), True))
                stack.append((node.element, inner, False))
            elif kind is ast.Lambda:
                stack.append((node.body, {**local, node.var: "implicit variable"}, False))
            elif kind is ast.Field:
                stack.append((node.value, local, False))
            else:
                stack.extend((child, local, False) for child in ast.children(node))

    def _check_function(self, func: ast.Name, local):
        name = func.id
        if name in BUILTINS or name in _SPECIAL_FUNCTIONS:
            return
        if name in self.declared and self.declared[name][0] == "def":
            return
        if name in local or name in self.declared:
            kind = local.get(name) or self.declared[name][0]
            raise DopTypeError(f"'{name}' is a {kind}, not a function", func.span)
        if self.defining is not None and name == self.defining.name:
            raise DopTypeError(f"'{name}' calls itself: a def cannot be recursive", func.span)
        if name in self.later:
            raise DopNameError(f"'{name}' is used before it is declared", func.span,
                               notes=[f"it is declared at {self.later[name].location}"])
        defs = [n for n, (k, _) in self.declared.items() if k == "def"]
        raise DopNameError(f"unknown function '{name}'", func.span,
                           hint=did_you_mean(name, list(BUILTINS) + defs
                                             + list(_SPECIAL_FUNCTIONS)))
