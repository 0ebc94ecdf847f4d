"""Build hook for the optional C accelerator of the converter (everything else is in pyproject.toml).

``optional=True``: without a C compiler the install still succeeds and the converter uses its
pure-Python path (same output, slower); ``hftctl convert --log-level info`` says which.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("hftctl.convert._scan", ["hftctl/convert/_scan.c"],
                             extra_compile_args=["-O2", "-std=c11", "-Wall", "-Wextra"],
                             optional=True)])
