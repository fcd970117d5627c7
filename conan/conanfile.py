"""Conan 2 recipe for lsk, a header-only C++20 library.

The recipe lives in conan/ of the lsk repository and packages the headers of
that checkout: include/ and backends/*/include/. Build from the repository root:

    conan create conan/ -s compiler.cppstd=20

Components (CMake: find_package(lsk) with CMakeDeps):
    lsk::lsk      core, ops, reference and cpu (Eigen) backends
    lsk::testing  the conformance suite; the consumer brings Catch2 v2
The option cuda (default False) is reserved for lsk::cuda; it is refused for
now because the CUDA backend compiles kernels and this package is headers only.

Not carried: OpenMP flags and OpenBLAS. The cpu backend then runs its own
loops single-threaded and its matmul through Eigen; link OpenMP::OpenMP_CXX
yourself for threads, or define LSK_CPU_HAS_CBLAS and link a CBLAS yourself.
"""

import os
import re

from conan import ConanFile
from conan.errors import ConanInvalidConfiguration
from conan.tools.build import check_min_cppstd
from conan.tools.files import copy, load
from conan.tools.layout import basic_layout

required_conan_version = ">=2.0"


class LskConan(ConanFile):
    name = "lsk"
    description = "Long-context training recipes for Llama-style models, in C++20 (header-only)"
    topics = ("llm", "training", "long-context", "header-only")
    package_type = "header-library"
    settings = "os", "arch", "compiler", "build_type"
    options = {"cuda": [True, False]}
    default_options = {"cuda": False}
    no_copy_source = True

    @property
    def _repo_root(self):
        return os.path.join(self.recipe_folder, "..")

    def set_version(self):
        config = load(self, os.path.join(self._repo_root, "include", "lsk", "config.hpp"))
        parts = [re.search(rf"#define LSK_VERSION_{p} (\d+)", config).group(1) for p in ("MAJOR", "MINOR", "PATCH")]
        self.version = ".".join(parts)

    def export_sources(self):
        root = self._repo_root
        copy(self, "*", os.path.join(root, "include"), os.path.join(self.export_sources_folder, "include"))
        copy(self, "*/include/*", os.path.join(root, "backends"), os.path.join(self.export_sources_folder, "backends"))
        for f in ("LICENSE", "README.md"):
            if os.path.exists(os.path.join(root, f)):
                copy(self, f, root, self.export_sources_folder)

    def layout(self):
        basic_layout(self, src_folder=".")

    def requirements(self):
        self.requires("eigen/3.4.0")
        self.requires("range-v3/0.12.0")

    def package_id(self):
        self.info.clear()

    def validate(self):
        check_min_cppstd(self, 20)
        if self.options.cuda:
            # lsk::cuda has compiled kernels (backends/cuda/src/*.cu), which a
            # header-library package cannot carry.
            raise ConanInvalidConfiguration(
                "lsk/*:cuda=True is not packaged yet: the CUDA backend has compiled code; "
                "build lsk with CMake (-DLSK_ENABLE_CUDA=ON) and install it instead")

    def build(self):
        pass  # header-only

    def package(self):
        include_dst = os.path.join(self.package_folder, "include")
        copy(self, "*.hpp", os.path.join(self.source_folder, "include"), include_dst)
        backends = os.path.join(self.source_folder, "backends")
        for backend in sorted(os.listdir(backends)):
            src = os.path.join(backends, backend, "include")
            if os.path.isdir(src):
                copy(self, "*.hpp", src, include_dst)
                copy(self, "*.cuh", src, include_dst)
        copy(self, "LICENSE", self.source_folder, os.path.join(self.package_folder, "licenses"))

    def _packaged_requires(self, *components):
        # A requirement met by the platform ([platform_requires] in a profile)
        # is no dependency Conan can describe to CMakeDeps: naming it here would
        # make CMakeDeps fail, and it would emit nothing for it anyway. The
        # consumer then finds such a library itself (find_package(Eigen3)).
        # (self.dependencies leaves platform requirements out of lookups.)
        return [c for c in components if c.split("::")[0] in self.dependencies]

    def package_info(self):
        self.cpp_info.set_property("cmake_file_name", "lsk")
        self.cpp_info.bindirs = []
        self.cpp_info.libdirs = []

        core = self.cpp_info.components["core"]
        core.set_property("cmake_target_name", "lsk::lsk")
        core.bindirs = []
        core.libdirs = []
        core.requires = self._packaged_requires("eigen::eigen", "range-v3::range-v3")

        testing = self.cpp_info.components["testing"]
        testing.set_property("cmake_target_name", "lsk::testing")
        testing.bindirs = []
        testing.libdirs = []
        testing.requires = ["core"]

