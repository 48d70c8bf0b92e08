"""Compiled extensions: every Cython module in impl/_kernels/ (everything else is in
pyproject.toml). The kernels' parallel loops run on the thread team of impl/_kernels/threads.h,
not OpenMP's: only OpenMP's ``simd`` pragmas are used (-fopenmp-simd), so there is no OpenMP
runtime to link."""

import glob
import os

from Cython.Build import cythonize
from setuptools import Extension, setup

extensions = [
    Extension(
        "impl._kernels." + os.path.splitext(os.path.basename(path))[0],
        [path],
        include_dirs=["impl/_kernels"],
        extra_compile_args=["-O3", "-fopenmp-simd", "-pthread"],
        extra_link_args=["-pthread"],
    )
    for path in sorted(glob.glob("impl/_kernels/*.pyx"))
]

setup(ext_modules=cythonize(extensions, compiler_directives={"language_level": "3"}))
