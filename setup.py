"""Build hook for the optional C accelerators of the converter and the audit (everything else is
in pyproject.toml).

``optional=True``: without a C compiler the install still succeeds and both use their
pure-Python paths (same output, slower); ``hftctl convert --log-level info`` says which.
"""

from setuptools import Extension, setup

FLAGS = ["-O2", "-std=c11", "-Wall", "-Wextra"]

setup(ext_modules=[Extension("hftctl.convert._scan", ["hftctl/convert/_scan.c"], extra_compile_args=FLAGS,
                             optional=True),
                   Extension("hftctl.audit._fast", ["hftctl/audit/_fast.c"], extra_compile_args=FLAGS,
                             optional=True)])
