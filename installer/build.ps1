# Build the Windows bundle (dist\meterlab\meterlab.exe, with its icon and licenses\ folder) and,
# when Inno Setup is installed, the installer (dist\MeterLab-Setup-<version>.exe); then smoke-test
# the frozen executable. Not yet run on Windows: see README, "Install".
$ErrorActionPreference = "Stop"
Set-Location (Join-Path $PSScriptRoot "..")
py -3.11 -m venv .venv-build
.\.venv-build\Scripts\pip install -q -e ".[package]"
.\.venv-build\Scripts\python -m PyInstaller --noconfirm --clean --distpath dist --workpath build installer\meterlab.spec
if ($LASTEXITCODE -ne 0) { throw "PyInstaller failed" }
$version = .\.venv-build\Scripts\python -c "from importlib.metadata import version; print(version('meterlab'))"
.\.venv-build\Scripts\python installer\smoke_test.py dist\meterlab\meterlab.exe
if ($LASTEXITCODE -ne 0) { throw "the smoke test failed" }
$iscc = Get-Command iscc -ErrorAction SilentlyContinue
if ($iscc) { & $iscc.Source "/DAppVersion=$version" installer\windows\meterlab.iss }
