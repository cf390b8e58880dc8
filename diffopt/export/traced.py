"""The export's one contact with the engine: a traced program and its liveness.

``traced_program(session, x)`` records the program at ``x`` with its staged
gradient (the session's ``Recording``) and keeps what the code generator
needs beside the tape: the objective as written, the sign of its gradient,
the lets. The equations, guards and inputs are the IR's own (``ir.tape``);
an ``implicit`` equation (``root``, ``argmin``) holds its closed sub-program
(``ir.subprogram.SubProgram``) as ``params["sub"]``, whose tape is read the
same way, one level deeper.

Must not import the CLI or Rich.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diffopt.ir.tape import Tape, live_equations


@dataclass
class TracedProgram:
    """What one trace produced, with the gradient of the objective as written."""

    tape: Tape  # its equations (value and staged gradient), guards and inputs
    objective: object  # slot or constant array: the objective as written
    gradient: list  # per parameter: slot or constant, of the *minimized* objective
    gradient_sign: float  # -1.0 for maximize: d(written)/dx = -gradient
    lets: dict  # let/var name -> slot or constant array

    @property
    def lines(self) -> list:
        return self.tape.eqns

    @property
    def inputs(self) -> list:
        return self.tape.inputs

    @property
    def branches(self) -> list:
        return self.tape.guards

    @property
    def values(self) -> list:
        return self.tape.values


def traced_program(session, x: np.ndarray) -> TracedProgram:
    """Trace ``problem`` at the flat point ``x`` and stage its gradient.

    Args:
        session: a loaded problem (``api.load``).
        x: the flat point whose path (branch decisions) is exported.
    """
    recording = session.trace(np.asarray(x, dtype=np.float64))
    return TracedProgram(
        tape=recording.tape,
        objective=recording.reported,
        gradient=list(recording.gradient),
        gradient_sign=-1.0 if session.problem.sense == "maximize" else 1.0,
        lets=dict(recording.lets),
    )


def live_lines(tape: Tape, outputs: list) -> list[int]:
    """Indices (into ``tape.eqns``) of the equations ``outputs`` need, in order."""
    return live_equations(tape, [o for o in outputs if isinstance(o, int)])
