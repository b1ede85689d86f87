# Build the Windows bundle (dist\meterlab\meterlab.exe) and, when Inno Setup is installed, the
# installer (dist\MeterLab-Setup.exe); then smoke-test the frozen executable.
$ErrorActionPreference = "Stop"
Set-Location (Join-Path $PSScriptRoot "..")
py -3.11 -m venv .venv-build
.\.venv-build\Scripts\pip install -q -e . "pyinstaller>=6.10"
.\.venv-build\Scripts\pyinstaller --noconfirm --clean --distpath dist --workpath build installer\meterlab.spec
.\.venv-build\Scripts\python installer\smoke_test.py dist\meterlab\meterlab.exe
$iscc = Get-Command iscc -ErrorAction SilentlyContinue
if ($iscc) { & $iscc.Source installer\windows\meterlab.iss }
