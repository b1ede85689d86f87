#!/usr/bin/env bash
# Build MeterLab for Linux, in dist/ (or --dist DIR):
#   meterlab/                               the PyInstaller folder (installer/meterlab.spec)
#   meterlab-<version>-linux-<arch>.tar.gz  that folder as a tarball
#   meterlab_<version>_<arch>.deb           the Debian package (installer/build_deb.py)
# then smoke-test the frozen executable (installer/smoke_test.py).
#
#   --python PY   a Python that has MeterLab and PyInstaller installed, e.g. .venv/bin/python after
#                 `pip install -e '.[test]'` (default: make .venv-build with `pip install -e '.[package]'`)
#   --dist DIR    where the results go (default: dist)
#   --work DIR    PyInstaller's working folder (default: build)
#   --no-smoke    leave the smoke test out (tests/installer runs it on the unpacked package)
set -euo pipefail
cd "$(dirname "$0")/.."
python="" dist=dist work=build smoke=1
while [ $# -gt 0 ]; do
  case "$1" in
    --python) python=${2:?--python needs a path}; shift 2 ;;
    --dist) dist=${2:?--dist needs a folder}; shift 2 ;;
    --work) work=${2:?--work needs a folder}; shift 2 ;;
    --no-smoke) smoke=0; shift ;;
    *) echo "build.sh: unknown option $1 (expected --python PY, --dist DIR, --work DIR or --no-smoke)" >&2
       exit 2 ;;
  esac
done
if [ -z "$python" ]; then
  python3 -m venv .venv-build
  .venv-build/bin/pip install -q -e '.[package]'
  python=.venv-build/bin/python
fi
"$python" -m PyInstaller --noconfirm --clean --log-level WARN --distpath "$dist" --workpath "$work" \
  installer/meterlab.spec
version=$("$python" -c "from importlib.metadata import version; print(version('meterlab'))")
tar -C "$dist" -czf "$dist/meterlab-${version}-linux-$(uname -m).tar.gz" meterlab
"$python" installer/build_deb.py --bundle "$dist/meterlab" --out "$dist"
if [ "$smoke" = 1 ]; then
  "$python" installer/smoke_test.py "$dist/meterlab/meterlab"
fi
