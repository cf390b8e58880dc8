"""The language server for .dop files (``diffopt lsp``; needs the extra ``[lsp]``).

``analysis`` and ``positions`` are plain Python; ``server`` is the pygls glue.
"""
