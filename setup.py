"""Compiled extensions: every Cython module in impl/_kernels/ (everything else is in
pyproject.toml). OpenMP lets the kernels' parallel loops use every core."""

import glob
import os

from Cython.Build import cythonize
from setuptools import Extension, setup

extensions = [
    Extension(
        "impl._kernels." + os.path.splitext(os.path.basename(path))[0],
        [path],
        extra_compile_args=["-O3", "-fopenmp"],
        extra_link_args=["-fopenmp"],
    )
    for path in sorted(glob.glob("impl/_kernels/*.pyx"))
]

setup(ext_modules=cythonize(extensions, compiler_directives={"language_level": "3"}))
