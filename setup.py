"""Build hook: copy the top-level grammars/ and man/ into the wheel; install the man pages.

The grammar lives at the top of the repository (grammars/dop.lark) so that it
is easy to find and review, but the installed package must carry it; this
build step copies it (and the man pages) into ``diffopt/grammars`` and
``diffopt/man`` inside the build tree. A source checkout finds the top-level
copies directly (see diffopt/resources.py).

The man pages are also installed as data files into the environment's
``share/man/man1`` and ``share/man/man5``, so ``man diffopt`` and ``man 5 dop``
find them: man looks in ``../share/man`` next to every ``bin`` on PATH.
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


def man_data_files() -> list[tuple[str, list[str]]]:
    """(share/man/manN, [man/page.N, ...]) for each section the pages use."""
    sections: dict[str, list[str]] = {}
    for path in sorted((ROOT / "man").glob("*.[0-9]")):
        section = path.suffix[1:]
        sections.setdefault(f"share/man/man{section}", []).append(f"man/{path.name}")
    return sorted(sections.items())


setup(cmdclass={"build_py": BuildPyWithResources}, data_files=man_data_files())
