#!/bin/sh
# Installs the core and plugins into the running environment from a private copy of the tree.
#
#   sh buildsys/install_from_copy.sh COPY [pip install arguments, paths relative to the tree]
#
# Run from the top of the tree.  `tox p` installs into many environments at once, and
# setuptools builds inside the source tree (build/, the bdist staging directory): two builds
# of the same project at once removed each other's files ("No such file or directory"), and a
# build could package what another environment's build had left there (a C extension or mypyc
# modules in an environment that asked for pure Python).  Each environment gets its own copy
# (COPY, emptied first) without version-control, build or tool directories.
set -eu
copy=$1
shift
rm -rf "$copy"
mkdir -p "$copy"
tar -cf - --exclude=.git --exclude=.tox --exclude=.venv --exclude=build --exclude='*.egg-info' \
    --exclude=__pycache__ --exclude=.mypy_cache --exclude=.ruff_cache --exclude=node_modules . |
    tar -C "$copy" -xf -
cd "$copy"
exec python -m pip install --quiet "$@"
