"""Build hook: copy the top-level grammars/ and man/ into the wheel.

The grammar lives at the top of the repository (grammars/dop.lark) so that it
is easy to find and review, but the installed package must carry it; this
build step copies it (and the man pages) into ``diffopt/grammars`` and
``diffopt/man`` inside the build tree. A source checkout finds the top-level
copies directly (see diffopt/resources.py).
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildPyWithResources(build_py):
    def run(self):
        super().run()
        for folder, pattern in (("grammars", "*.lark"), ("man", "*.[0-9]")):
            target = Path(self.build_lib) / "diffopt" / folder
            target.mkdir(parents=True, exist_ok=True)
            for path in sorted((ROOT / folder).glob(pattern)):
                shutil.copy2(path, target / path.name)


setup(cmdclass={"build_py": BuildPyWithResources})
