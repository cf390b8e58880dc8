"""The primitive registry: value, shape, JVP and VJP rules of every op, together.

A primitive is one ``prim(...)`` stanza. Every consumer is derived from
``REGISTRY``: the checker and tracer (``bind``), forward mode (``d``/``jvp``),
reverse mode (``vjp``), the compiler (``scalar``), export (``export``), the
tests (parametrized over the registry) and the man-page check. Language
built-ins (``BUILTINS``) are registered with ``builtin(...)``: a primitive,
or a composite written in terms of primitives.

How ``bind`` decides what a call means (one dispatch on argument types):
all arguments concrete → compute ``impl`` now (constant folding); any
argument ``Abstract`` (a branch explored only to be checked) → the ``shape``
rule only; any argument a ``Var`` → the tape that owns it records (or, in
abstract mode, shape-checks) the equation.

Rule conventions:

* ``d``: elementwise ops give one local partial per input,
  ``d_i(*inputs, out)`` (``None`` for zero). Both modes derive from it:
  forward ``t_out = Σ d_i · t_i``; reverse ``x̄_i += sum_to(ḡ · d_i, shape_i)``.
* ``jvp(tangents, inputs, out, **params)``: the forward rule of a structural
  primitive that is not linear, written with primitives (so it is staged on
  the tape like everything else); None tangents are zero. There is one
  forward rule per primitive: elementwise ones derive it from ``d``, linear
  ones apply themselves to the tangents.
* ``vjp(cotangent, inputs, out, **params)``: written with primitives (so it
  works on Vars and arrays alike) and returns one cotangent per input (None
  for zero). Because it is staged, the gradient of a program is itself a tape:
  it compiles like the value, and forward mode over it gives Hessian-vector
  products.
Must not import the front end, the CLI or Rich.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from diffopt.ops.export_rule import ExportRule
from diffopt.ops.language import CONSTANTS, SPECIAL_FORMS, Builtin  # noqa: F401  (re-exported)
from diffopt.ops.shapes import Shape, broadcast_shapes, format_shape  # noqa: F401  (re-exported)

# ------------------------------------------------------------------ value kinds


class Abstract:
    """A value known only by its shape (the checker's view of a parameter)."""

    __slots__ = ("shape",)

    def __init__(self, shape: Shape):
        self.shape = tuple(shape)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return f"Abstract{self.shape}"


class Var:
    """A traced value: slot ``id`` on ``tape``, with its value at the trace point."""

    __slots__ = ("tape", "id", "value")

    def __init__(self, tape, id: int, value: np.ndarray):
        self.tape = tape
        self.id = id
        self.value = value

    @property
    def shape(self) -> Shape:
        return self.value.shape

    @property
    def ndim(self) -> int:
        return self.value.ndim

    def __repr__(self) -> str:
        return f"Var(%{self.id}, shape={self.shape})"


# Operator overloading lets rules read like math (``g * cos(x)``) on Vars,
# Abstracts and arrays alike; each operator binds the matching primitive.
def _binary_method(name, swap=False):
    def method(self, other):
        prim = REGISTRY[name]
        return bind(prim, other, self) if swap else bind(prim, self, other)

    return method


for _cls in (Abstract, Var):
    _cls.__add__ = _binary_method("add")
    _cls.__radd__ = _binary_method("add", swap=True)
    _cls.__sub__ = _binary_method("sub")
    _cls.__rsub__ = _binary_method("sub", swap=True)
    _cls.__mul__ = _binary_method("mul")
    _cls.__rmul__ = _binary_method("mul", swap=True)
    _cls.__truediv__ = _binary_method("div")
    _cls.__rtruediv__ = _binary_method("div", swap=True)
    _cls.__matmul__ = _binary_method("matmul")
    _cls.__rmatmul__ = _binary_method("matmul", swap=True)
    _cls.__neg__ = lambda self: bind(REGISTRY["neg"], self)
    _cls.__array_priority__ = 1000  # ndarray op Var defers to Var's reflected method


def shape_of(x) -> Shape:
    cls = x.__class__
    if cls is Var:
        return x.value.shape
    if cls is Abstract or cls is np.ndarray:  # np.shape's dispatch costs a µs
        return x.shape
    return tuple(np.shape(x))


def as_array(x) -> np.ndarray:
    """A concrete float64 array (for constants entering an op)."""
    if isinstance(x, np.ndarray) and x.dtype == np.float64:
        return x
    return np.asarray(x, dtype=np.float64)


# ------------------------------------------------------------------ primitives


@dataclass(frozen=True, eq=False)
class Prim:
    """One primitive. See the module docstring for the rule conventions.

    Attributes:
        name: the DSL name (``sin``) or an internal name (``sum_to``).
        impl: ``(*arrays, **params) -> array``.
        shape: ``(*shapes, **params) -> shape``; raises ShapeError.
        d: elementwise local partials, one per input (None = zero partial).
        jvp, vjp: structural rules, staged (see module docstring).
        nondiff: the derivative is zero everywhere (floor, comparisons, ...).
        nargs: number of array inputs; -1 for a variadic primitive (one or
            more inputs, e.g. ``concat``), whose ``domain`` has one entry used
            for every input.
        domain: per-input sampler name for tests (tests/test_ops.py draws from it):
            "real" uniform in [-2, 2]; "positive" in [0.5, 2.5]; "nonzero"
            ±[0.5, 2]; "unit" in [-0.9, 0.9] (asin, acos, tan); "low" in
            [-1.5, -0.5] and "high" in [0.5, 1.5] (clip bounds, so that all
            three pieces are exercised); "distinct" real entries at least 0.1
            apart (max, min, sorting: no ties within a finite-difference
            step); "condition" 0.0 or 1.0 (not differentiated).
        doc: one line for the man page.
        boolean: the output is a condition (0/1), usable by ``if``/``where``.
        surrogate: the derivative is deliberately not that of the value
            (straight-through estimators, stop_grad): finite differences do
            not apply, and ``diffopt check`` compares the two AD modes only.
        linear: the primitive is linear in all its array inputs (sum, index,
            concat, ...), so its forward rule is itself applied to the tangents.
        scalar: optional Python expression template for the all-scalar case
            (``"({0} * {1})"``, ``"_m.sin({0})"``); the compiler inlines it on
            Python floats. It may raise ArithmeticError/ValueError (then the
            NumPy code runs instead), so templates need not handle inf/NaN.
        writes_out: ``impl`` takes an ``out=`` keyword and writes its result
            (of the broadcast shape) there, as a ufunc does, so the compiler
            may hand it a reused buffer instead of allocating a fresh array.
            Set automatically when ``impl`` is a NumPy ufunc.
        fresh: ``impl`` always returns a newly allocated array, never one of
            its inputs or a view of one (ufuncs, full reductions). Anything
            not marked fresh is assumed to possibly alias its inputs, which
            keeps the compiler's buffer reuse safe.
        export: how ``diffopt export`` writes the primitive in a standalone
            module (an ``ExportRule``; ``prim`` also takes its ``expr`` alone).
            None: the primitive cannot be exported (it never appears on a
            value/gradient tape).
    """

    name: str
    impl: Callable[..., np.ndarray]
    shape: Callable[..., Shape]
    nargs: int
    d: tuple | None = None
    jvp: Callable | None = None
    vjp: Callable | None = None
    nondiff: bool = False
    domain: tuple[str, ...] = ()
    doc: str = ""
    boolean: bool = False
    scalar: str | None = None
    surrogate: bool = False
    linear: bool = False
    writes_out: bool = False
    fresh: bool = False
    export: ExportRule | None = None

    def __call__(self, *args, **params):
        return bind(self, *args, **params)

    @property
    def elementwise(self) -> bool:
        return self.d is not None

    def __repr__(self) -> str:
        return f"<prim {self.name}>"


REGISTRY: dict[str, Prim] = {}


def prim(
    name: str,
    impl: Callable,
    *,
    nargs: int = 1,
    d: Any = None,
    shape: Callable | None = None,
    jvp: Callable | None = None,
    vjp: Callable | None = None,
    nondiff: bool = False,
    domain: tuple[str, ...] | str = "real",
    doc: str = "",
    boolean: bool = False,
    scalar: str | None = None,
    surrogate: bool = False,
    linear: bool = False,
    writes_out: bool = False,
    fresh: bool = False,
    export: ExportRule | str | Callable | None = None,
) -> Prim:
    """Register a primitive and return it (calling it binds it).

    Elementwise primitives pass ``d`` (a partial, or a tuple of one per
    input; ``None`` entries are zero) and get the broadcasting shape rule and
    both derivative rules for free. Structural primitives pass ``shape``,
    ``jvp`` and ``vjp``. ``nondiff=True`` declares a zero derivative.
    """
    if name in REGISTRY:
        raise ValueError(f"primitive {name!r} registered twice")
    if d is not None and not isinstance(d, tuple):
        d = (d,)
    if nondiff and d is None and shape is None:
        d = (None,) * nargs  # elementwise, zero partials
    if d is not None:
        assert len(d) == nargs, name  # variadic primitives are structural
        shape = shape or broadcast_shapes
        vjp = vjp or functools.partial(_elementwise_vjp, d)
    if isinstance(domain, str):
        domain = (domain,) * max(nargs, 1)  # variadic (nargs=-1): one sampler for all
    assert shape is not None, f"{name}: needs a shape rule"
    if isinstance(impl, np.ufunc) and impl.nout == 1:
        writes_out = True
    fresh = fresh or writes_out
    if export is not None and not isinstance(export, ExportRule):
        export = ExportRule(export)
    entry = Prim(name, impl, shape, nargs, d, jvp, vjp, nondiff, domain, doc, boolean, scalar,
                 surrogate, linear, writes_out, fresh, export)
    REGISTRY[name] = entry
    return entry


# ------------------------------------------------------------------ binding

def bind(p: Prim, *args, **params):
    """Apply primitive ``p``: compute, check shapes, or record (see module doc)."""
    # Once per primitive applied, in checking and tracing alike: class tests
    # (Var and Abstract have no subclasses) rather than isinstance chains.
    tape = None
    abstract = False
    for a in args:
        cls = a.__class__
        if cls is Var:
            if tape is None:
                tape = a.tape
        elif cls is Abstract:
            abstract = True
    if abstract:
        return Abstract(p.shape(*[shape_of(a) for a in args], **params))
    if tape is None:
        arrays = [as_array(a) for a in args]
        p.shape(*[a.shape for a in arrays], **params)
        return as_array(p.impl(*arrays, **params))
    return tape.record(p, args, params)


# ---------------------------------------------------- elementwise rules


def _elementwise_vjp(d, cotangent, inputs, out, **params):
    # x̄_i = sum_to(ḡ · d_i(inputs, out), shape_i): broadcasting undone. Only
    # traced inputs get a cotangent; ḡ = 0 gives exactly 0 even where d_i is
    # inf/NaN, which is what keeps untaken `where` branches from leaking.
    grads = []
    for d_i, x in zip(d, inputs, strict=True):
        if d_i is None or not isinstance(x, (Var, Abstract)):
            grads.append(None)
            continue
        scaled = scale_cotangent(cotangent, d_i(*inputs, out, **params))
        grads.append(None if scaled is None else sum_to(scaled, shape_of(x)))
    return grads


def scale_cotangent(cotangent, partial):
    """ḡ · partial, staged as cheaply as the partial allows.

    A constant partial of 1, -1 or 0 needs no product at all, and a finite
    constant needs only a plain one (0 · c = 0 already); only a traced partial,
    which may be inf or NaN somewhere, needs the zero-safe ``dmul``. Runs once
    per staged derivative term, so scalars are inspected as Python floats.
    """
    if not isinstance(cotangent, (Var, Abstract)):
        # a constant cotangent (or a forward-mode seed): zero-safety only
        # matters where it is 0, so a nonzero constant scales plainly
        g = np.asarray(cotangent, dtype=np.float64)
        value = _uniform_value(g)
        if value == 0.0:
            return None
        if value is not None and math.isfinite(value):
            partial_shape = shape_of(partial)
            if (g.ndim == 0 or g.shape == partial_shape
                    or np.broadcast_shapes(g.shape, partial_shape) == partial_shape):
                # one value (a seed, the broadcast ḡ of a sum or mean) scales
                # as a scalar: no pass over a constant array
                if not isinstance(partial, (Var, Abstract)):
                    return value * np.asarray(partial, dtype=np.float64)  # both constant
                if value == 1.0:
                    return partial
                return REGISTRY["mul"](value, partial)
            return REGISTRY["mul"](g, partial)
        if value is None and np.all(np.isfinite(g)) and np.all(g != 0.0):
            return REGISTRY["mul"](g, partial)
    if not isinstance(partial, (Var, Abstract)):
        c = np.asarray(partial, dtype=np.float64)
        value = _uniform_value(c)
        if value is not None and math.isfinite(value):
            if value == 0.0:
                return None
            if value in (1.0, -1.0):
                shape = np.broadcast_shapes(shape_of(cotangent), c.shape)
                scaled = cotangent if value == 1.0 else REGISTRY["neg"](cotangent)
                return broadcast_to(scaled, shape)
            return REGISTRY["mul"](cotangent, c)
        if value is None and np.all(np.isfinite(c)):
            return REGISTRY["mul"](cotangent, c)
    return REGISTRY["dmul"](cotangent, partial)


def _uniform_value(c: np.ndarray) -> float | None:
    """The one value every entry of ``c`` has (0.0 if empty), else None (NaN: None)."""
    if c.ndim == 0:
        value = float(c)
        return value if value == value else None
    if c.size == 0:
        return 0.0
    first = c.flat[0]
    return float(first) if first == first and np.all(c == first) else None


def sum_to(x, shape: Shape):
    """Sum ``x`` down to ``shape`` (the adjoint of broadcasting)."""
    if shape_of(x) == tuple(shape):
        return x
    return REGISTRY["sum_to"](x, shape=tuple(shape))


def broadcast_to(x, shape: Shape):
    if shape_of(x) == tuple(shape):
        return x
    return REGISTRY["broadcast_to"](x, shape=tuple(shape))


# -------------------------------------------- user built-ins (records: ops.language)


BUILTINS: dict[str, Builtin] = {}


def builtin(
    name: str,
    fn: Callable | None = None,
    *,
    positional: tuple[str, ...] = ("x",),
    keywords: dict[str, Any] | None = None,
    optional: int = 0,
    variadic: bool = False,
    generator: bool = False,
    constant_args: bool = False,
    doc: str = "",
) -> Builtin:
    """Expose a function to the language (a primitive, or a composite ``fn``)."""
    if name in BUILTINS:
        raise ValueError(f"built-in {name!r} registered twice")
    if fn is None:
        fn = REGISTRY[name]
        doc = doc or fn.doc
    entry = Builtin(
        name, fn, positional, keywords or {}, optional, variadic, generator, constant_args, doc
    )
    BUILTINS[name] = entry
    return entry
