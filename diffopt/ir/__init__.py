"""The intermediate representation: the tape (``diffopt.ir.tape``)."""
