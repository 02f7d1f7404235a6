"""Compiles the fake CUDA libraries (interpose/native) as part of every install, editable included."""
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithInterposer(build_py):
    def run(self):
        super().run()
        root = Path(__file__).resolve().parent
        sys.path.insert(0, str(root))   # the build step is ours: import it from the source tree
        from interpose.build import build

        # editable installs import from the source tree, so the libraries go there
        out = root / "interpose" / "lib" if self.editable_mode else Path(self.build_lib) / "interpose" / "lib"
        build(out)


setup(cmdclass={"build_py": BuildWithInterposer})
