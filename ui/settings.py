"""The desktop's own settings: one INI file per user, in the user's configuration folder.

On Linux ``$XDG_CONFIG_HOME/MeterLab/meterlab.ini`` (by default ``~/.config/MeterLab/``); where
the folder is is read each time, so a test (or a second profile) points it elsewhere with
``XDG_CONFIG_HOME``. Today it holds the lab store's URL chosen in File › Lab store….
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths

#: The key of the lab store's URL ("" or missing: the workstation's SQLite file).
LAB_STORE_KEY = "lab_store/url"


def settings_path() -> Path:
    """The settings file (it may not exist yet)."""
    folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericConfigLocation)
    return Path(folder) / "MeterLab" / "meterlab.ini"


def _settings() -> QSettings:
    return QSettings(str(settings_path()), QSettings.Format.IniFormat)


def saved_lab_store() -> str:
    """The lab store's URL saved in the settings, or "" (none: the workstation's file)."""
    value = _settings().value(LAB_STORE_KEY, "")
    return str(value or "").strip()


def save_lab_store(url: str) -> None:
    """Keep `url` as the lab store ("" : the workstation's file) for the next starts.

    Raises:
        OSError: the settings file cannot be written (the sentence names it).
    """
    settings = _settings()
    settings.setValue(LAB_STORE_KEY, url.strip())
    settings.sync()
    if settings.status() != QSettings.Status.NoError:
        raise OSError(f"MeterLab could not write its settings to {settings_path()}.")
