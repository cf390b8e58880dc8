"""Compilation of tapes into fast functions (``codegen``, ``fusion``, ``buffers``)."""
