#!/usr/bin/env bash
# Build the Linux bundle: dist/meterlab/ and dist/meterlab-<version>-linux-x86_64.tar.gz,
# then smoke-test the frozen executable.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv-build
.venv-build/bin/pip install -q -e . 'pyinstaller>=6.10'
.venv-build/bin/pyinstaller --noconfirm --clean --distpath dist --workpath build installer/meterlab.spec
version=$(.venv-build/bin/python -c "from importlib.metadata import version; print(version('meterlab'))")
tar -C dist -czf "dist/meterlab-${version}-linux-$(uname -m).tar.gz" meterlab
.venv-build/bin/python installer/smoke_test.py dist/meterlab/meterlab
