"""The LALR parse loop: Lark's parse table, run by a loop of our own.

Owns: reading the parse table and the rule callbacks out of a built
``Lark(parser="lalr", ...)`` object, once, into integer-keyed tables, and the
loop (``Driver.parse``) that runs them over a stream of tokens in place of
Lark's ``_Parser.parse_from_state`` / ``ParserState.feed_token``. The table,
the callbacks (the transformer's methods with Lark's own wrappers), the
tokens and the exceptions are all Lark's; only the loop is ours, and it takes
the same steps, so the values, the tokens each callback sees and every
``UnexpectedToken`` are those of Lark's loop.

Why: a 10^5-node program is about a million reductions, most of them unit
reductions up the precedence chain (``?expr: conditional``, ...,
``?postfix: atom``) whose callback only hands back its one child. Lark's loop
looks every callback up by ``Rule`` (hashing and comparing rules) and runs
each unit reduction in full. Here rules are numbered when the table is read,
and a run of unit reductions is one step: it leaves the value stack alone and
only replaces the top state, by a state that depends only on the state below
it, the top state and the lookahead, so it is looked up in a memo filled as
parses meet new cases.

What is read from Lark, and checked when the driver is built (an unexpected
shape raises ``LarkTableError`` there, never a wrong parse later): the
``LALR_Parser``/``_Parser`` pair of the parsing front end, its ``parse_table``
(``states``: state -> {symbol: (Shift, state) | (Reduce, Rule)}, states
numbered 0..n-1, ``start_states``/``end_states``), and ``callbacks`` (Rule ->
callable). The input is pulled from the token iterator one token at a time,
as Lark does, so a lexer that tracks what the parser has consumed still can.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from lark import Lark, Token
from lark.exceptions import UnexpectedToken
from lark.grammar import Rule
from lark.parse_tree_builder import ExpandSingleChild
from lark.parsers.lalr_analysis import Reduce, Shift
from lark.parsers.lalr_interactive_parser import InteractiveParser
from lark.parsers.lalr_parser import LALR_Parser, _Parser
from lark.parsers.lalr_parser_state import ParseConf, ParserState

_END = "$END"


class LarkTableError(RuntimeError):
    """The built Lark parser is not shaped as this driver expects (internal error)."""


def _require(condition: bool, what: str) -> None:
    if not condition:
        raise LarkTableError(f"internal error: diffopt's LALR driver cannot run this Lark "
                             f"parser: {what}")


class Driver:
    """Lark's LALR table and callbacks as integer tables, and the loop that runs them.

    Rules are numbered 0..R-1 and actions are ints, in one list per symbol
    (its column of the table, indexed by state): a shift is the target state
    (>= 0); reducing rule ``r`` is ``~r`` (-1 down to -R), or ``~r - R``
    (-R-1 down to -2R) for a unit rule; no action is ``-2R-1``. A unit rule
    has one symbol and its Lark callback is a bare ``ExpandSingleChild`` (a
    ``?rule`` without an alias), which returns its one child: reducing it
    keeps the value and changes only the top state.
    """

    def __init__(self, lark: Lark, lex: Callable[[str], Iterator[Token]]):
        self._lex = lex
        frontend = lark.parser
        _require(lark.options.parser == "lalr", "the parser is not 'lalr'")
        lalr = getattr(frontend, "parser", None)
        _require(type(lalr) is LALR_Parser, f"the front end's parser is {type(lalr)!r}")
        inner = lalr.parser
        _require(type(inner) is _Parser, f"the LALR parser's loop is {type(inner)!r}")
        table = inner.parse_table
        callbacks = inner.callbacks
        starts = list(lark.options.start)
        _require(len(starts) == 1, f"expected one start rule, not {starts}")
        (start,) = starts
        lark_states = table.states
        n = len(lark_states)
        _require(isinstance(lark_states, dict) and sorted(lark_states) == list(range(n)),
                 "the parse table's states are not numbered 0..n-1")
        _require(isinstance(callbacks, dict) and callbacks
                 and all(isinstance(rule, Rule) for rule in callbacks),
                 "the callbacks are not a non-empty table of rules")
        self._start_state = start_state = table.start_states[start]
        self._end_state = end_state = table.end_states[start]
        _require(start_state in lark_states and end_state in lark_states,
                 "the start or end state is not in the table")

        # Number the rules the table reduces; look each callback up once
        # (Lark's loop does it by Rule at every reduction).
        index: dict[Rule, int] = {}
        rules: list[Rule] = []
        for row in lark_states.values():
            for action, arg in row.values():
                if action is Reduce and arg not in index:
                    _require(isinstance(arg, Rule), f"a reduction by {arg!r}")
                    _require(arg in callbacks, f"no callback for {arg}")
                    index[arg] = len(rules)
                    rules.append(arg)
        count = len(rules)
        self._callbacks = [callbacks[rule] for rule in rules]
        self._sizes = [len(rule.expansion) for rule in rules]
        unit = [len(rule.expansion) == 1 and type(callbacks[rule]) is ExpandSingleChild
                for rule in rules]
        self._rule_count = count
        self._unit_limit = -count  # below: a unit reduction, or no action
        self._missing = missing = -2 * count - 1

        columns: dict[str, list[int]] = {}
        for state in range(n):
            for symbol, (action, arg) in lark_states[state].items():
                _require(isinstance(symbol, str), f"a table key {symbol!r}")
                column = columns.get(symbol)
                if column is None:
                    column = columns[symbol] = [missing] * n
                if action is Shift:
                    _require(type(arg) is int and 0 <= arg < n, f"a shift to {arg!r}")
                    if symbol.isupper():  # a terminal: Lark asserts these never happen
                        _require(symbol != _END and arg != end_state,
                                 f"state {state} shifts {symbol} to the end state")
                    column[state] = arg
                elif action is Reduce:
                    _require(symbol.isupper(), f"state {state} reduces on {symbol}")
                    r = index[arg]
                    column[state] = ~r - count if unit[r] else ~r
                else:
                    _require(False, f"an action {action!r}")
        self._columns = columns
        self._no_column = [missing] * n  # a token type the table never mentions
        # goto[r][state]: the state after reducing rule r onto ``state``.
        self._gotos: list[list[int | None]] = []
        for rule in rules:
            column = columns.get(rule.origin.name, self._no_column)
            _require(all(a >= 0 or a == missing for a in column),
                     f"a state reduces on the nonterminal {rule.origin.name}")
            self._gotos.append([None if a == missing else a for a in column])
        self._state_count = n
        # lookahead terminal -> {below * n + top: top after its unit reductions}
        self._chains: dict[str, dict[int, int]] = {}
        self._lark_states = lark_states
        self._parse_conf = ParseConf(table, callbacks, start)
        self._inner = inner
        self._frontend = frontend

    def parse(self, text: str):
        """Parse ``text`` (lexed by ``lex(text)``) and return the start rule's value.

        Raises Lark's ``UnexpectedToken`` where Lark's loop would, with the
        same token, the same ``expected`` set and the same stacks.
        """
        columns = self._columns
        sizes = self._sizes
        callbacks = self._callbacks
        gotos = self._gotos
        unit_limit = self._unit_limit
        missing = self._missing
        n = self._state_count
        chains = self._chains
        chain = self._chain
        state = self._start_state
        states = [state]  # as Lark's state_stack: one more than values
        values: list = []
        token = None
        for token in self._lex(text):  # one token at a time, as Lark pulls them
            ttype = token.type
            try:
                column = columns[ttype]
            except KeyError:
                column = self._no_column
            while True:
                act = column[state]
                if act >= 0:  # shift, and on to the next token
                    states.append(act)
                    values.append(token)
                    state = act
                    break
                if act < unit_limit:
                    if act == missing:
                        raise self._unexpected(token, state, states, values, text)
                    # Unit reductions: only the top state changes.
                    below = states[-2]
                    try:
                        state = chains[ttype][below * n + state]
                    except KeyError:
                        state = chain(below, state, ttype)
                    states[-1] = state
                    continue
                r = ~act  # _reduce, inlined: this is the parse's hottest path
                size = sizes[r]
                if size:
                    children = values[-size:]
                    del states[-size:]
                    del values[-size:]
                else:
                    children = []
                value = callbacks[r](children)
                state = gotos[r][states[-1]]
                states.append(state)
                values.append(value)
        return self._feed_end(token, states, values, text)

    def _chain(self, below: int, top: int, ttype: str) -> int:
        """The top state after the unit reductions from ``top`` on ``ttype``, memoized.

        The state below stays where it is, so each step is goto(below, the
        rule's origin); the chain stops at the first state whose action on
        ``ttype`` is not a unit reduction, or which has none: the main loop
        then fails there, on the stacks Lark's loop would fail on.
        """
        column = self._columns.get(ttype, self._no_column)
        unit_limit = self._unit_limit
        missing = self._missing
        count = self._rule_count
        gotos = self._gotos
        key = below * self._state_count + top
        while True:
            act = column[top]
            if act >= unit_limit or act == missing:
                self._chains.setdefault(ttype, {})[key] = top
                return top
            top = gotos[~(act + count)][below]

    def _feed_end(self, last: Token | None, states: list, values: list, text: str):
        """Lark's end of input: reduce on ``$END`` until the end state, step by step."""
        token = Token.new_borrow_pos(_END, "", last) if last else Token(_END, "", 0, 1, 1)
        column = self._columns.get(_END, self._no_column)
        count = self._rule_count
        end_state = self._end_state
        while True:
            state = states[-1]
            act = column[state]
            if act == self._missing:
                raise self._unexpected(token, state, states, values, text)
            # Never a shift (checked when the table was read); unit
            # reductions run their callback here, as in Lark.
            self._reduce(~act if act >= self._unit_limit else ~(act + count), states, values)
            if states[-1] == end_state:
                return values[-1]

    def _reduce(self, r: int, states: list, values: list) -> None:
        """Reduce by rule ``r``: pop its symbols, push its callback's value and the goto."""
        size = self._sizes[r]
        if size:
            children = values[-size:]
            del states[-size:]
            del values[-size:]
        else:
            children = []
        value = self._callbacks[r](children)
        states.append(self._gotos[r][states[-1]])
        values.append(value)

    def _unexpected(self, token: Token, state: int, states: list, values: list,
                    text: str) -> UnexpectedToken:
        """Lark's error for ``token`` in ``state``, with Lark's parser state attached."""
        expected = {s for s in self._lark_states[state].keys() if s.isupper()}
        make_thread = getattr(self._frontend, "_make_lexer_thread", None)
        thread = make_thread(text) if make_thread is not None else None
        parser_state = ParserState(self._parse_conf, thread, states, values)
        error = UnexpectedToken(token, expected, state=parser_state, interactive_parser=None)
        error.interactive_parser = InteractiveParser(self._inner, parser_state, thread)
        return error


__all__ = ["Driver", "LarkTableError"]
