"""Line settings validation and the mapping of OS errors to device-state reasons."""

from __future__ import annotations

import errno
import termios

import pytest
import serial
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.transports.base import (
    InvalidSettingError,
    LineSettings,
    SerialSettings,
    TransportError,
    TransportErrorReason,
)
from devices.transports.serial_errors import SerialPhase, error_number, map_serial_error

R = TransportErrorReason


def test_defaults_and_description() -> None:
    s = SerialSettings("/dev/ttyUSB0")
    assert (s.baud, s.bytesize, s.parity, s.stopbits) == (9600, 8, "N", 1)
    assert s.line.describe() == "9600 8N1"
    assert LineSettings(300, 7, "E", 1).describe() == "300 7E1"
    assert LineSettings(300, 8, "N", 1.5).describe() == "300 8N1.5"


@pytest.mark.parametrize(
    ("kwargs", "field", "sentence"),
    [
        ({"port": ""}, "port", "port must be a device path or name such as /dev/ttyUSB0 or COM3."),
        ({"baud": 0}, "baud", "baud must be a whole number from 1 to 4000000, got 0."),
        ({"baud": 9600.0}, "baud", "baud must be a whole number from 1 to 4000000, got 9600.0."),
        ({"baud": True}, "baud", "baud must be a whole number from 1 to 4000000, got True."),
        ({"bytesize": 9}, "bytesize", "bytesize must be one of 5, 6, 7, 8, got 9."),
        ({"parity": "X"}, "parity", "parity must be one of N, E, O, M, S, got 'X'."),
        ({"parity": "e"}, "parity", "parity must be one of N, E, O, M, S, got 'e'."),
        ({"stopbits": 3}, "stopbits", "stopbits must be one of 1, 1.5, 2, got 3."),
    ],
)
def test_bad_settings_name_the_field(kwargs: dict[str, object], field: str, sentence: str) -> None:
    values: dict[str, object] = {"port": "/dev/pts/7", **kwargs}
    with pytest.raises(InvalidSettingError) as caught:
        SerialSettings(**values)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert str(caught.value) == sentence


@settings(max_examples=200, deadline=None)
@given(
    baud=st.one_of(st.integers(), st.floats(), st.text(max_size=3), st.none()),
    bytesize=st.one_of(st.integers(-2, 12), st.text(max_size=2)),
    parity=st.one_of(st.text(max_size=2), st.integers()),
    stopbits=st.one_of(st.floats(allow_nan=False), st.integers(-1, 4)),
)
def test_any_input_is_accepted_or_rejected_with_one_sentence(
    baud: object, bytesize: object, parity: object, stopbits: object
) -> None:
    try:
        LineSettings(baud, bytesize, parity, stopbits)  # type: ignore[arg-type]
    except InvalidSettingError as exc:
        assert exc.field in {"baud", "bytesize", "parity", "stopbits"}
        assert str(exc).startswith(exc.field + " must be")


@pytest.mark.parametrize(
    ("exc", "phase", "reason"),
    [
        (serial.SerialException(errno.ENOENT, "could not open port"), SerialPhase.OPEN, R.MISSING),
        (
            serial.SerialException(errno.EACCES, "could not open port"),
            SerialPhase.OPEN,
            R.PERMISSION_DENIED,
        ),
        (serial.SerialException(errno.EPERM, "x"), SerialPhase.OPEN, R.PERMISSION_DENIED),
        (serial.SerialException(errno.EBUSY, "x"), SerialPhase.OPEN, R.BUSY),
        (
            serial.SerialException(errno.EWOULDBLOCK, "Could not exclusively lock port"),
            SerialPhase.OPEN,
            R.BUSY,
        ),
        (
            serial.SerialException("read failed: [Errno 5] Input/output error"),
            SerialPhase.READ,
            R.DISCONNECTED,
        ),
        (
            serial.SerialException(
                "device reports readiness to read but returned no data "
                "(device disconnected or multiple access on port?)"
            ),
            SerialPhase.READ,
            R.DISCONNECTED,
        ),
        (OSError(errno.EIO, "Input/output error"), SerialPhase.READ, R.DISCONNECTED),
        (
            serial.SerialException(f"Could not configure port: {termios.error(5, 'I/O error')}"),
            SerialPhase.CONFIGURE,
            R.DISCONNECTED,
        ),
        (
            serial.SerialException("write failed: [Errno 28] No space left"),
            SerialPhase.WRITE,
            R.IO_ERROR,
        ),
        (serial.SerialException(errno.EINVAL, "x"), SerialPhase.OPEN, R.IO_ERROR),
    ],
)
def test_errors_map_to_reasons(exc: BaseException, phase: SerialPhase, reason: R) -> None:
    error = map_serial_error(exc, "/dev/ttyUSB0", phase, windows=False)
    assert error.reason is reason
    assert "/dev/ttyUSB0" in error.message


def test_windows_access_denied_means_busy() -> None:
    exc = serial.SerialException(
        "could not open port 'COM3': PermissionError(13, 'Access is denied.', None, 5)"
    )
    assert error_number(exc) == 13
    error = map_serial_error(exc, "COM3", SerialPhase.OPEN, windows=True)
    assert error.reason is R.BUSY
    assert error.message == "port COM3 is busy or access was denied (used by another program?)"


def test_transport_error_carries_reason_and_sentence() -> None:
    error = TransportError(R.BUSY, "port /dev/ttyUSB0 is busy (used by another program)")
    assert str(error) == "port /dev/ttyUSB0 is busy (used by another program)"
    assert error.reason.value == "busy"
    assert map_serial_error(error, "x", SerialPhase.READ) is error
