#!/bin/sh
# Regenerates docs/terrain.png, the picture in README.md, with diffopt itself:
# the seed write-up's terrain crossing solved by gradient descent (lr 1.5,
# 20 iterations), its objective per iteration beside the travel-time
# landscape with the path. Needs matplotlib: pip install '.[plot]'.
# The solve stops at its iteration limit (exit status 1): that is the picture.
set -u
cd "$(dirname "$0")/.."
python -m diffopt solve problems/terrain.dop --method gd --lr 1.5 --max-iter 20 \
    --plot docs/terrain.png --quiet > /dev/null
status=$?
if [ "$status" -gt 1 ]; then exit "$status"; fi
echo "wrote docs/terrain.png"
