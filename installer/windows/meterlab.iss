; Inno Setup script: installs the PyInstaller folder built by installer\build.ps1 (which passes
; /DAppVersion from the package metadata). The folder holds meterlab.exe (with MeterLab's icon),
; _internal\ (Python, Qt and the libraries) and licenses\ (their licence texts).
#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif

[Setup]
AppId={{6C0C8C57-2B7B-4F0E-9F4B-6D2D3A8F1E21}
AppName=MeterLab
AppVersion={#AppVersion}
AppPublisher=MeterLab
DefaultDirName={autopf}\MeterLab
DefaultGroupName=MeterLab
OutputDir=..\..\dist
OutputBaseFilename=MeterLab-Setup-{#AppVersion}
SetupIconFile=..\..\resources\icons\meterlab.ico
UninstallDisplayIcon={app}\meterlab.exe
Compression=lzma2
SolidCompression=yes
ArchitecturesInstallIn64BitMode=x64compatible

[Files]
Source: "..\..\dist\meterlab\*"; DestDir: "{app}"; Flags: recursesubdirs ignoreversion

[Icons]
Name: "{group}\MeterLab"; Filename: "{app}\meterlab.exe"
Name: "{group}\MeterLab licences"; Filename: "{app}\licenses\README.txt"
Name: "{autodesktop}\MeterLab"; Filename: "{app}\meterlab.exe"; Tasks: desktopicon

[Tasks]
Name: "desktopicon"; Description: "Create a desktop shortcut"; Flags: unchecked
