"""Build the Cython block-Gibbs kernel (rbm._gibbs and the modules it cimports), with
OpenMP when the compiler has it."""

import os
import sys
import tempfile
import textwrap

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

OPENMP_PROBE = textwrap.dedent(
    """
    #include <omp.h>
    int main(void) {
        int n = 0;
        #pragma omp parallel reduction(+:n)
        n += 1;
        return omp_get_max_threads() > 0 && n > 0 ? 0 : 1;
    }
    """
)


def openmp_flags(compiler):
    """Return (compile_args, link_args) for OpenMP, or None if unsupported.

    The probe compiles and links a tiny ``omp.h`` program with the very
    compiler setuptools will use for the extension.
    """
    if sys.platform == "win32":
        candidates = [(["/openmp"], [])]
    elif sys.platform == "darwin":
        candidates = [(["-Xpreprocessor", "-fopenmp"], ["-lomp"]), (["-fopenmp"], ["-fopenmp"])]
    else:
        candidates = [(["-fopenmp"], ["-fopenmp"])]
    with tempfile.TemporaryDirectory() as tmp:
        source = os.path.join(tmp, "probe_openmp.c")
        with open(source, "w") as f:
            f.write(OPENMP_PROBE)
        for compile_args, link_args in candidates:
            try:
                objects = compiler.compile([source], output_dir=tmp, extra_postargs=compile_args)
                compiler.link_executable(
                    objects, "probe_openmp", output_dir=tmp, extra_postargs=link_args
                )
            except Exception:  # any compile or link failure means "not this flag"
                continue
            return compile_args, link_args
    return None


class BuildExtWithOpenMP(build_ext):
    """build_ext that adds OpenMP flags when the compiler supports them."""

    def build_extensions(self):
        disabled = os.environ.get("RBM_NO_OPENMP", "") not in ("", "0")
        flags = None if disabled else openmp_flags(self.compiler)
        if flags is None:
            reason = "RBM_NO_OPENMP is set" if disabled else "the C compiler has no OpenMP"
            print(
                f"WARNING: building rbm without OpenMP ({reason}). Results are the "
                "same; only the optional threaded sampling path is unavailable.",
                file=sys.stderr,
            )
        for ext in self.extensions:
            if flags is not None:
                ext.extra_compile_args += flags[0]
                ext.extra_link_args += flags[1]
        super().build_extensions()


debug = os.environ.get("RBM_DEBUG_BUILD", "") not in ("", "0")
# -fno-math-errno: no math function here relies on errno, and with it set GCC
# cannot vectorise a loop that calls sqrt (rbm_box_muller in _normal.h).  It
# changes no result: glibc offers GCC vector versions of exp or log only under
# -ffast-math, so those calls stay the same libm calls.
compile_args = ["-O0", "-g"] if debug else ["-O3", "-fno-trapping-math", "-fno-math-errno"]
# Each extension calls a subset of the static helpers of _fastmath.h.
compile_args.append("-Wno-unused-function")
if sys.platform == "win32":
    compile_args = ["/O2"]

#: The kernel's extensions: the home of block-Gibbs sampling and training, and
#: the modules it cimports (products, random streams, samplers per unit type,
#: shared argument checks) and annealed importance sampling.
KERNEL_MODULES = ["_gibbs", "_blas", "_random", "_sampling", "_checks", "_ais", "_classify"]

extensions = [
    Extension(
        f"rbm.{name}",
        sources=[f"rbm/{name}.pyx"],
        # The C helpers: a change to either rebuilds the modules.
        depends=["rbm/_fastmath.h", "rbm/_avx512.h", "rbm/_normal.h"],
        include_dirs=[np.get_include(), "rbm"],
        # Only bitgen_t's next_uint64 is used (a function pointer in the struct),
        # so no NumPy static library needs linking.
        libraries=[] if sys.platform == "win32" else ["m"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")],
        extra_compile_args=list(compile_args),
        extra_link_args=[],
    )
    for name in KERNEL_MODULES
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives={
            "language_level": 3,
            "boundscheck": debug,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": debug,
        },
    ),
    cmdclass={"build_ext": BuildExtWithOpenMP},
)
