#!/bin/bash
# build-python.sh [CONFIGURE FLAGS]: CPython from /mnt (the verified source) for the build
# machine, in /opt/build-python, for a cross build's --with-build-python; its bin/
# python-for-build names the interpreter. No pip, no byte-code beyond make install's top
# folder: only the cross build runs it.
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1
echo "[cpython] the build machine's own CPython ${*:-(default build)}, for the cross build"
cp -a /mnt /tmp/src && mkdir /tmp/build && cd /tmp/build
/tmp/src/configure --prefix=/opt/build-python --without-ensurepip "$@" >configure.out
make -j"$(nproc)" >make.log 2>&1 || { tail -40 make.log >&2; exit 1; }
make install COMPILEALL_OPTS="-j0 -l" >install.log 2>&1 || { tail -40 install.log >&2; exit 1; }
cd /opt/build-python/bin
# python3.13, or python3.13t (a free-threaded build installs both names)
ln -s "$(ls python3.[0-9]* | grep -E '^python3\.[0-9]+t?$' | sort | tail -1)" python-for-build
./python-for-build -c 'import sys; print("[cpython] build python:", sys.version)'
rm -rf /tmp/src /tmp/build
