"""Add or edit a device: a field's sentence appears once the field is left, or on OK.

Nothing is said about a field before the user has been in it. Once a field shows its sentence,
the sentence follows what is typed (it goes as soon as the value is right). Every field has a
line reserved for its sentence, so nothing moves when one appears or goes, and the dialog is as
big as its content.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QRect, Qt
from PySide6.QtGui import QFocusEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLayout,
    QLineEdit,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.domain.devices import Device, DeviceKind
from app.domain.errors import ValidationError
from ui.dialogs.device_form import (
    EMULATOR_ENDPOINTS,
    STREAM_TRANSPORTS,
    TRANSPORTS,
    WHERE_FIELD,
    DeviceForm,
    build,
    check,
    default_baud,
    default_protocol,
    protocols,
)

ERROR_STYLE = "color: #c62828;"
#: Width of a field's sentence line (the usual sentences fit; a longer one wraps to a second line).
ERROR_WIDTH = 560
#: Fields the form checks as they are typed: each has its sentence's line reserved. The others
#: can only be refused when saving (on OK), and their line appears then.
CHECKED_FIELDS = frozenset({"label", "device_id", "mpxn", "bench", "where", "baud", "protocol"})
BAUDS = ("300", "1200", "2400", "4800", "9600", "19200", "38400", "57600", "115200")


class DeviceDialog(QDialog):
    """The device form. ``device()`` gives the validated device once the dialog is accepted.

    Args:
        find: looks a device up by label, to keep labels unique.
        save: stores the device (add or update) and returns it; a ValidationError it raises is
            shown beside its field and the dialog stays open.
        device: the device to edit, or None to add one.
        ports: serial ports to offer (the user may type any other path).
    """

    def __init__(self, find: Callable[[str], Device | None], save: Callable[[Device], Device],
                 device: Device | None = None, ports: list[str] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("deviceDialog")
        self.setWindowTitle("Edit device" if device else "Add device")
        self._find, self._save = find, save
        self._form = DeviceForm.from_device(device) if device else DeviceForm()
        self._ports = list(ports or [])
        self.saved: Device | None = None
        # A new device's protocol follows its kind until the user picks one.
        self._protocol_chosen_by_user = device is not None
        self.errors: dict[str, str] = {}
        self.error_labels: dict[str, QLabel] = {}
        self.fields: dict[str, QWidget] = {}
        #: fields whose sentence is shown: left at least once, or all of them after OK
        self.touched: set[str] = set()

        self.label_edit = QLineEdit(self._form.label)
        self.kind_combo = QComboBox()
        for kind in DeviceKind:
            self.kind_combo.addItem(kind.value, kind)
        self.kind_combo.setCurrentIndex(list(DeviceKind).index(self._form.kind))
        self.device_id_edit = QLineEdit(self._form.device_id)
        self.device_id_edit.setPlaceholderText("00-DB-12-34-56-78-90-A0")
        self.mpxn_edit = QLineEdit(self._form.mpxn)
        self.manufacturer_edit = QLineEdit(self._form.manufacturer)
        self.model_edit = QLineEdit(self._form.model)
        self.firmware_edit = QLineEdit(self._form.firmware)
        self.owner_edit = QLineEdit(self._form.owner)
        self.owner_edit.setPlaceholderText("lab, or the participant organisation")
        self.bench_edit = QLineEdit(self._form.bench)

        self.transport_combo = QComboBox()
        for value, text in TRANSPORTS:
            self.transport_combo.addItem(text, value)
        self.where_combo = QComboBox()
        self.where_combo.setEditable(True)
        self.where_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.where_label = QLabel("Port")
        self.baud_combo = QComboBox()
        self.baud_combo.setEditable(True)
        self.baud_combo.addItems(BAUDS)
        self.protocol_combo = QComboBox()
        self.protocol_combo.addItems(protocols())

        identity = QGroupBox("Device")
        form = QFormLayout(identity)
        self._row(form, "&Label", self.label_edit, "label")
        self._row(form, "&Kind", self.kind_combo, "kind")
        self._row(form, "Device &ID (EUI-64)", self.device_id_edit, "device_id")
        self._row(form, "&MPAN / MPRN", self.mpxn_edit, "mpxn")
        self._row(form, "Manu&facturer", self.manufacturer_edit, "manufacturer")
        self._row(form, "M&odel", self.model_edit, "model")
        self._row(form, "Fi&rmware", self.firmware_edit, "firmware")
        self._row(form, "O&wner", self.owner_edit, "owner")
        self._row(form, "&Bench", self.bench_edit, "bench")
        link = QGroupBox("Connection")
        link_form = QFormLayout(link)
        self._row(link_form, "&Transport", self.transport_combo, "transport")
        self._row(link_form, self.where_label, self.where_combo, "where")
        self._row(link_form, "B&aud", self.baud_combo, "baud")
        self._row(link_form, "&Protocol", self.protocol_combo, "protocol")

        # Both groups' fields start at the same x.
        titles = [f.labelForField(w) for f in (form, link_form)
                  for w in (f.itemAt(i, QFormLayout.ItemRole.FieldRole).widget()
                            for i in range(f.rowCount()))]
        width = max(t.sizeHint().width() for t in titles if t is not None)
        for title in titles:
            if title is not None:
                title.setMinimumWidth(width)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(identity)
        layout.addWidget(link)
        layout.addWidget(self.buttons)
        # The size of the content (every sentence's line is already counted), no bigger.
        layout.setSizeConstraint(QLayout.SizeConstraint.SetFixedSize)

        transport_index = self.transport_combo.findData(self._form.transport)
        self.transport_combo.setCurrentIndex(max(transport_index, 0))
        self._fill_where()
        self.where_combo.setEditText(self._form.where)
        self.baud_combo.setEditText(self._form.baud)
        self.protocol_combo.setCurrentText(self._form.protocol)

        for edit in (self.label_edit, self.device_id_edit, self.mpxn_edit, self.manufacturer_edit,
                     self.model_edit, self.firmware_edit, self.owner_edit, self.bench_edit):
            edit.textChanged.connect(self.revalidate)
        self.kind_combo.currentIndexChanged.connect(self._kind_changed)
        self.protocol_combo.activated.connect(self._protocol_chosen)
        self.transport_combo.currentIndexChanged.connect(self._transport_changed)
        self.where_combo.editTextChanged.connect(self.revalidate)
        self.baud_combo.editTextChanged.connect(self.revalidate)
        self.protocol_combo.currentTextChanged.connect(self._protocol_changed)
        self._show_connection_rows()
        self.revalidate()

    def _row(self, form: QFormLayout, label: str | QLabel, widget: QWidget, name: str) -> None:
        error = QLabel()
        error.setObjectName(f"error_{name}")
        error.setStyleSheet(ERROR_STYLE)
        # One line, always there: a sentence appearing or going moves nothing (only a sentence
        # longer than the line takes the lines it needs).
        error.setWordWrap(True)
        error.setFixedHeight(error.fontMetrics().lineSpacing())
        error.setMinimumWidth(ERROR_WIDTH)
        error.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        error.setVisible(name in CHECKED_FIELDS)
        self.error_labels[name] = error
        self.fields[name] = widget
        widget.installEventFilter(self)
        if isinstance(widget, QComboBox) and widget.lineEdit() is not None:
            widget.lineEdit().installEventFilter(self)
        box = QWidget()
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addWidget(widget)
        column.addWidget(error)
        if isinstance(label, QLabel):
            label.setBuddy(widget)
            form.addRow(label, box)
        else:
            form.addRow(label, box)
            buddy = form.labelForField(box)
            if isinstance(buddy, QLabel):
                buddy.setBuddy(widget)

    # --- reacting to input ---------------------------------------------------------------------
    def _fill_where(self) -> None:
        transport = self.transport_combo.currentData() or ""
        text = self.where_combo.currentText()
        self.where_combo.blockSignals(True)
        self.where_combo.clear()
        if transport == "serial":
            self.where_combo.addItems(self._ports)
            self.where_combo.lineEdit().setPlaceholderText("/dev/ttyUSB0 or COM3")
        elif transport == "emulator":
            self.where_combo.addItems(EMULATOR_ENDPOINTS)
        elif transport == "ble":
            self.where_combo.lineEdit().setPlaceholderText("AA:BB:CC:DD:EE:FF")
        elif transport == "han":
            self.where_combo.lineEdit().setPlaceholderText("label of the comms hub")
        self.where_combo.setEditText(text)
        self.where_combo.blockSignals(False)

    def _show_connection_rows(self) -> None:
        transport = self.transport_combo.currentData() or ""
        self.where_label.setText(f"&{WHERE_FIELD[transport][0]}" if transport in WHERE_FIELD
                                 else "Where")
        self.where_combo.setEnabled(transport in WHERE_FIELD)
        self.baud_combo.setEnabled(transport in ("serial", "emulator"))
        self.protocol_combo.setEnabled(transport in STREAM_TRANSPORTS)

    def _transport_changed(self) -> None:
        self.where_combo.setEditText("")
        self._fill_where()
        self._show_connection_rows()
        self.revalidate()

    def _protocol_chosen(self) -> None:
        self._protocol_chosen_by_user = True

    def _kind_changed(self) -> None:
        if not self._protocol_chosen_by_user:
            self.protocol_combo.setCurrentText(default_protocol(self.kind_combo.currentData()))
        self.revalidate()

    def _protocol_changed(self, protocol: str) -> None:
        # IEC 62056-21 always opens at 300 baud; offer it rather than leave a rate that cannot work.
        if protocol == "iec62056-21" or self.baud_combo.currentText() == "300":
            self.baud_combo.setEditText(str(default_baud(protocol)))
        self.revalidate()

    def set_ports(self, ports: list[str]) -> None:
        """New serial port list from hot-plug watching."""
        self._ports = list(ports)
        if (self.transport_combo.currentData() or "") == "serial":
            self._fill_where()

    def form(self) -> DeviceForm:
        kind = self.kind_combo.currentData()
        return DeviceForm(
            label=self.label_edit.text(), kind=kind, device_id=self.device_id_edit.text(),
            mpxn=self.mpxn_edit.text(), manufacturer=self.manufacturer_edit.text(),
            model=self.model_edit.text(), firmware=self.firmware_edit.text(),
            owner=self.owner_edit.text(), bench=self.bench_edit.text(),
            transport=self.transport_combo.currentData() or "",
            where=self.where_combo.currentText(), baud=self.baud_combo.currentText(),
            protocol=self.protocol_combo.currentText(), extra=self._form.extra, id=self._form.id,
        )

    def revalidate(self) -> None:
        self.errors = check(self.form(), self._find)
        self._show_errors()

    def shown_errors(self) -> dict[str, str]:
        """The sentences on screen, by field."""
        return {name: label.toolTip() for name, label in self.error_labels.items()
                if label.toolTip()}

    def _show_errors(self) -> None:
        for name, label in self.error_labels.items():
            text = self.errors.get(name, "") if name in self.touched else ""
            # A sentence longer than its line wraps onto the lines it needs: read whole.
            metrics = label.fontMetrics()
            needed = metrics.boundingRect(QRect(0, 0, max(label.width(), ERROR_WIDTH), 10_000),
                                          Qt.TextFlag.TextWordWrap, text).height() if text else 0
            label.setFixedHeight(max(metrics.lineSpacing(), needed))
            label.setText(text)
            label.setToolTip(text)
            label.setVisible(name in CHECKED_FIELDS or bool(text))
            field = self.fields[name]
            field.setToolTip(text)
            field.setAccessibleDescription(text)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # Focus going to a drop-down's list or another window is not leaving the field.
        if event.type() == QEvent.Type.FocusOut and isinstance(event, QFocusEvent) \
                and event.reason() not in (Qt.FocusReason.PopupFocusReason,
                                           Qt.FocusReason.ActiveWindowFocusReason):
            for name, field in self.fields.items():
                if watched is field or (isinstance(field, QComboBox)
                                        and watched is field.lineEdit()):
                    self.leave(name)
                    break
        return super().eventFilter(watched, event)

    def leave(self, name: str) -> None:
        """The user left field `name`: its sentence is shown from now on."""
        if name not in self.touched:
            self.touched.add(name)
            self._show_errors()

    def accept(self) -> None:
        self.touched = set(self.error_labels)
        self.revalidate()
        if self.errors:
            first = next(name for name in self.error_labels if name in self.errors)
            self.fields[first].setFocus(Qt.FocusReason.OtherFocusReason)
            return
        try:
            self.saved = self._save(build(self.form()))
        except ValidationError as exc:
            name = exc.field if exc.field in self.error_labels else "label"
            self.errors = {name: exc.message}
            self._show_errors()
            self.fields[name].setFocus(Qt.FocusReason.OtherFocusReason)
            return
        super().accept()
