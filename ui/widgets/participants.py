"""The Participants tab: organisations, their people, and the inductions each person holds."""

from __future__ import annotations

from datetime import date

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.domain.lab import E2E_ROLES
from app.domain.participants import Organisation, Person
from app.main import AppContext
from ui.errors import ErrorReporter
from ui.widgets.columns import fit_columns


def _table(headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.verticalHeader().setVisible(False)
    table.setAlternatingRowColors(True)
    fit_columns(table, stretch=len(headers) - 1)
    return table


def _cell(text: str, data: object = None) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    if data is not None:
        item.setData(Qt.ItemDataRole.UserRole, data)
    return item


class RolePicker(QWidget):
    """One checkbox per SEC user role."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setHorizontalSpacing(10)
        layout.setVerticalSpacing(2)
        self.boxes = {role: QCheckBox(role) for role in E2E_ROLES}
        for i, box in enumerate(self.boxes.values()):
            layout.addWidget(box, i // 4, i % 4)
        layout.setColumnStretch(4, 1)

    def roles(self) -> list[str]:
        return [r for r, box in self.boxes.items() if box.isChecked()]

    def set_roles(self, roles: list[str] | tuple[str, ...]) -> None:
        for r, box in self.boxes.items():
            box.setChecked(r in roles)


class ParticipantsPanel(QWidget):
    """Add organisations and people, record inductions, see who is inducted until when."""

    sig_participants_changed = Signal()

    def __init__(self, ctx: AppContext, errors: ErrorReporter, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx, self.errors = ctx, errors

        # Organisations
        self.org_table = _table(["Organisation", "Roles", "Testing complete"])
        self.org_table.setObjectName("orgTable")
        self.org_table.horizontalHeaderItem(2).setToolTip(
            "Roles whose mandatory testing is complete: E2E testing is allowed for these")
        self.org_name = QLineEdit()
        self.org_name.setPlaceholderText("e.g. Northern Energy Supply")
        self.org_roles = RolePicker()
        self.org_done = RolePicker()
        self.add_org_button = QPushButton("Add organisation")
        self.add_org_button.clicked.connect(self.add_org)
        org_form = QFormLayout()
        org_form.addRow("Name:", self.org_name)
        org_form.addRow("Holds roles:", self.org_roles)
        org_form.addRow("Testing complete:", self.org_done)
        org_form.addRow("", self.add_org_button)
        org_box = QGroupBox("Organisations")
        ol = QVBoxLayout(org_box)
        ol.addWidget(self.org_table, 1)
        ol.addLayout(org_form)

        # People
        self.people_table = _table(["Name", "Email", "Induction"])
        self.people_table.setObjectName("peopleTable")
        self.people_heading = QLabel()
        self.person_name = QLineEdit()
        self.person_email = QLineEdit()
        self.person_email.setPlaceholderText("name@example.com")
        self.add_person_button = QPushButton("Add person")
        self.add_person_button.clicked.connect(self.add_person)
        person_form = QFormLayout()
        person_form.addRow("Name:", self.person_name)
        person_form.addRow("Email:", self.person_email)
        person_form.addRow("", self.add_person_button)
        people_box = QGroupBox("People")
        pl = QVBoxLayout(people_box)
        pl.addWidget(self.people_heading)
        pl.addWidget(self.people_table, 1)
        pl.addLayout(person_form)

        # Inductions
        self.induction_heading = QLabel()
        self.induction_table = _table(["Lab", "Held on", "Valid until", "Delivered by", "Status"])
        self.induction_table.setObjectName("inductionTable")
        self.induction_lab = QComboBox()
        self.induction_date = QDateEdit()
        self._date_filled = False
        self.induction_date.setCalendarPopup(True)
        self.induction_date.setDisplayFormat("ddd dd MMM yyyy")
        self.delivered_by = QLineEdit()
        self.delivered_by.setPlaceholderText("who ran the induction")
        self.induction_reason = QLineEdit()
        self.induction_reason.setObjectName("inductionReason")
        self.induction_reason.setPlaceholderText("required: where it was held, why not at this workstation")
        self.induction_reason.setToolTip(
            "An induction held elsewhere needs a justification; it is kept in the audit trail. "
            "Inductions given here use the Induction page's wizard.")
        self.induct_button = QPushButton("Record induction held elsewhere")
        self.induct_button.clicked.connect(self.record_induction)
        ind_form = QFormLayout()
        ind_form.addRow("Lab:", self.induction_lab)
        ind_form.addRow("Held on:", self.induction_date)
        ind_form.addRow("Delivered by:", self.delivered_by)
        ind_form.addRow("Reason:", self.induction_reason)
        ind_form.addRow("", self.induct_button)
        ind_box = QGroupBox("Inductions")
        il = QVBoxLayout(ind_box)
        il.addWidget(self.induction_heading)
        il.addWidget(self.induction_table, 1)
        il.addLayout(ind_form)

        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(people_box)
        right.addWidget(ind_box)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(org_box)
        splitter.addWidget(right)
        splitter.setSizes([440, 520])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)

        self.org_table.itemSelectionChanged.connect(self._org_selected)
        self.people_table.itemSelectionChanged.connect(self._person_selected)
        self.refresh()

    # --- state -------------------------------------------------------------------------------
    def _today(self) -> date:
        lab = self.ctx.labs.find(self.induction_lab.currentText()) if self.induction_lab.count() else None
        now = self.ctx.clock.now()
        return lab.local(now).date() if lab else now.date()

    def selected_org(self) -> Organisation | None:
        row = self.org_table.currentRow()
        if row < 0:
            return None
        org_id = self.org_table.item(row, 0).data(Qt.ItemDataRole.UserRole)
        return self.ctx.orgs.get(org_id)

    def selected_person(self) -> Person | None:
        row = self.people_table.currentRow()
        if row < 0:
            return None
        return self.ctx.people.get(self.people_table.item(row, 0).data(Qt.ItemDataRole.UserRole))

    def refresh(self, select_org: int | None = None, select_person: int | None = None) -> None:
        """Reload everything from the database, keeping the selection where possible."""
        current = self.selected_org()
        keep_org = select_org if select_org is not None else (current.id if current else None)
        person = self.selected_person()
        keep_person = select_person if select_person is not None else (person.id if person else None)
        lab_name = self.induction_lab.currentText()
        self.induction_lab.clear()
        for lab in self.ctx.labs.list():
            self.induction_lab.addItem(lab.name)
        if lab_name:
            self.induction_lab.setCurrentText(lab_name)
        today = QDate(*self._today().timetuple()[:3])
        chosen = self.induction_date.date()
        self.induction_date.setMaximumDate(today)
        # A date already chosen stays (a refresh from another workstation's change must not
        # undo it); the first fill, and a date past today, become today.
        if not self._date_filled or chosen > today:
            self.induction_date.setDate(today)
        self._date_filled = True
        orgs = self.ctx.orgs.list()
        self.org_table.blockSignals(True)
        self.org_table.setRowCount(len(orgs))
        for row, org in enumerate(orgs):
            self.org_table.setItem(row, 0, _cell(org.name, org.id))
            self.org_table.setItem(row, 1, _cell(", ".join(org.roles) or "—"))
            self.org_table.setItem(row, 2, _cell(", ".join(org.completed_roles) or "none yet"))
        row = next((i for i, o in enumerate(orgs) if o.id == keep_org), 0 if orgs else -1)
        if row >= 0:
            self.org_table.selectRow(row)
        self.org_table.blockSignals(False)
        self._fill_people(keep_person)

    def _org_selected(self) -> None:
        self._fill_people(None)

    def _fill_people(self, keep_person: int | None) -> None:
        org = self.selected_org()
        people = self.ctx.people.list(org.id) if org else []
        self.people_heading.setText(f"People of <b>{org.name}</b>" if org else "Choose an organisation.")
        self.add_person_button.setEnabled(org is not None)
        today = self._today()
        self.people_table.blockSignals(True)
        self.people_table.setRowCount(len(people))
        for row, person in enumerate(people):
            valid = [i for i in person.inductions if i.valid_on(today)]
            state = f"valid to {max(i.valid_until for i in valid):%d %b %Y}" if valid else (
                "expired" if person.inductions else "none")
            self.people_table.setItem(row, 0, _cell(person.name, person.id))
            self.people_table.setItem(row, 1, _cell(person.email))
            item = _cell(state)
            item.setForeground(QColor("#1e7a44") if valid else QColor("#b23b3b"))
            self.people_table.setItem(row, 2, item)
        row = next((i for i, p in enumerate(people) if p.id == keep_person), 0 if people else -1)
        if row >= 0:
            self.people_table.selectRow(row)
        self.people_table.blockSignals(False)
        self._person_selected()

    def _person_selected(self) -> None:
        person = self.selected_person()
        self.induct_button.setEnabled(person is not None and self.induction_lab.count() > 0)
        self.induction_heading.setText(
            f"Inductions of <b>{person.name}</b>" if person else "Choose a person.")
        inductions = person.inductions if person else ()
        labs = {lab.id: lab.name for lab in self.ctx.labs.list()}
        today = self._today()
        self.induction_table.setRowCount(len(inductions))
        for row, ind in enumerate(inductions):
            self.induction_table.setItem(row, 0, _cell(labs.get(ind.lab_id, str(ind.lab_id))))
            self.induction_table.setItem(row, 1, _cell(f"{ind.date:%d %b %Y}"))
            self.induction_table.setItem(row, 2, _cell(f"{ind.valid_until:%d %b %Y}"))
            self.induction_table.setItem(row, 3, _cell(ind.delivered_by or "—"))
            valid = ind.valid_on(today)
            status = _cell("Valid" if valid else ("Expired" if ind.valid_until < today else "Not yet"))
            status.setForeground(QColor("#1e7a44") if valid else QColor("#b23b3b"))
            self.induction_table.setItem(row, 4, status)

    # --- actions -----------------------------------------------------------------------------
    def add_org(self) -> None:
        with self.errors.guard("Add organisation"):
            org = self.ctx.lab_service.add_org(self.org_name.text(), ",".join(self.org_roles.roles()),
                                               ",".join(self.org_done.roles()))
            self.org_name.clear()
            self.org_roles.set_roles([])
            self.org_done.set_roles([])
            self.refresh(select_org=org.id)
            self.sig_participants_changed.emit()

    def add_person(self) -> None:
        org = self.selected_org()
        if org is None:
            return
        with self.errors.guard("Add person"):
            person = self.ctx.lab_service.add_person(str(org.id), self.person_name.text(),
                                                     self.person_email.text())
            self.person_name.clear()
            self.person_email.clear()
            self.refresh(select_org=org.id, select_person=person.id)
            self.sig_participants_changed.emit()

    def record_induction(self) -> None:
        person = self.selected_person()
        if person is None:
            return
        with self.errors.guard("Record induction"):
            self.ctx.lab_service.induct(person.email, self.induction_lab.currentText(),
                                        self.induction_date.date().toPython(),
                                        self.delivered_by.text().strip(),
                                        self.induction_reason.text())
            self.induction_reason.clear()
            self.refresh(select_person=person.id)
            self.sig_participants_changed.emit()
