"""Pictures of a problem and its solve: ``diffopt plot`` and ``solve --plot``.

``data`` computes what is drawn (grids evaluated in batches, the solver's
path, curves) as frozen dataclasses with a JSON form; ``figures`` draws them
with matplotlib (the optional ``plot`` extra) to PNG, SVG or PDF;
``terminal`` draws them as text (braille and shading characters) that fits
80 columns, with nothing extra installed; ``canvas`` is that text canvas.
"""
