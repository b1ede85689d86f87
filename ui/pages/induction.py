"""The Induction page: a wizard run with the participant at the workstation.

Choose the person (people of bookings checked in today at the lab; staff may tick "Anyone" to
induct a person without a booking), go through the sections (Next stays disabled until the
question is answered right; a wrong answer says why), the participant signs with their typed
full name, and a staff member countersigns with their password. The induction is then recorded
against the person and the lab with its expiry, the content's version and SHA-256, and both names.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.domain.errors import RuleRefusal, ValidationError
from app.domain.induction import InductionContent, Section, check_answer, check_signature
from app.domain.lab import Lab
from app.domain.participants import Induction
from app.services.inductions import (
    NO_ACCOUNTS_NOTE,
    InductionService,
    StaffVerifier,
    Visitor,
    account_locked_error,
    countersign,
    staff_verifier,
)
from ui.pages.registry import PageEnv

_WRONG = "color: #b00020; font-weight: 600;"
_RIGHT = "color: #1b7f3b; font-weight: 600;"


class InductionPage(QWidget):
    """The induction wizard.

    Args:
        accounts: checks the countersigning staff member's password (the staff accounts of the
            database when not given).
    """

    def __init__(self, env: PageEnv, parent: QWidget | None = None,
                 accounts: StaffVerifier | None = None) -> None:
        super().__init__(parent)
        self.env, self.ctx = env, env.ctx
        self.accounts = accounts or staff_verifier(self.ctx.lab_source, self.ctx.clock)
        self.service = InductionService.of(self.ctx)
        self.lab: Lab | None = None
        self.visitor: Visitor | None = None
        self.content: InductionContent | None = None
        self.index = 0
        self.recorded: Induction | None = None

        # Choosing the person
        self.heading = QLabel()
        self.heading.setStyleSheet("font-size: 14pt; font-weight: 600;")
        self.person_box = QComboBox()
        self.person_box.setMinimumWidth(360)
        self.anyone = QCheckBox("Anyone (staff: a person without a booking checked in today)")
        self.anyone.toggled.connect(self.reload)
        self.start_button = QPushButton("Start induction")
        self.start_button.clicked.connect(self.start)
        choose = QHBoxLayout()
        choose.addWidget(QLabel("Person:"))
        choose.addWidget(self.person_box, 1)
        choose.addWidget(self.start_button)
        self.choose_note = QLabel()
        self.choose_note.setWordWrap(True)

        # One section at a time
        self.step_label = QLabel()
        self.step_label.setStyleSheet("color: palette(dark);")
        self.section_title = QLabel()
        self.section_title.setStyleSheet("font-size: 13pt; font-weight: 600;")
        self.section_text = QLabel()
        self.section_text.setWordWrap(True)
        self.section_text.setStyleSheet("font-size: 11pt;")
        self.section_text.setTextFormat(Qt.TextFormat.PlainText)
        self.question = QLabel()
        self.question.setWordWrap(True)
        self.question.setStyleSheet("font-weight: 600; margin-top: 8px;")
        self.choices_box = QVBoxLayout()
        self.choice_group = QButtonGroup(self)
        self.choice_group.idClicked.connect(self.answer)
        self.feedback = QLabel()
        self.feedback.setWordWrap(True)
        section_page = QWidget()
        sl = QVBoxLayout(section_page)
        for w in (self.step_label, self.section_title, self.section_text, self.question):
            sl.addWidget(w)
        sl.addLayout(self.choices_box)
        sl.addWidget(self.feedback)
        sl.addStretch(1)

        # Signatures
        self.signature = QLineEdit()
        self.signature.setPlaceholderText("the participant's full name")
        self.signature.textChanged.connect(self._signature_changed)
        self.staff_name = QLineEdit()
        self.staff_name.setPlaceholderText("staff account name")
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.countersign_note = QLabel()
        self.countersign_note.setWordWrap(True)
        self.sign_feedback = QLabel()
        self.sign_feedback.setWordWrap(True)
        sign_page = QWidget()
        form = QFormLayout(sign_page)
        form.addRow(QLabel("<b>Participant: sign by typing your full name</b>"))
        form.addRow("Full name:", self.signature)
        form.addRow(QLabel("<b>Staff: countersign</b>"))
        form.addRow(self.countersign_note)
        form.addRow("Staff name:", self.staff_name)
        form.addRow("Password:", self.password)
        form.addRow(self.sign_feedback)

        # Done
        self.done_label = QLabel()
        self.done_label.setWordWrap(True)
        self.done_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        done_page = QWidget()
        QVBoxLayout(done_page).addWidget(self.done_label, 0, Qt.AlignmentFlag.AlignTop)

        self.stack = QStackedWidget()
        self.intro = QLabel("Choose the person and start the induction with them at the "
                            "workstation.")
        self.intro.setWordWrap(True)
        for w in (self.intro, section_page, sign_page, done_page):
            self.stack.addWidget(w)
        self.PAGE_INTRO, self.PAGE_SECTION, self.PAGE_SIGN, self.PAGE_DONE = range(4)

        self.back_button = QPushButton("Back")
        self.back_button.clicked.connect(self.back)
        self.next_button = QPushButton("Next")
        self.next_button.setDefault(True)
        self.next_button.clicked.connect(self.next)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        buttons = QHBoxLayout()
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        buttons.addWidget(self.back_button)
        buttons.addWidget(self.next_button)

        card = QFrame()
        card.setObjectName("inductionCard")
        card.setStyleSheet("#inductionCard { background: palette(base); border: 1px solid "
                           "palette(mid); border-radius: 8px; }")
        card.setMaximumWidth(820)
        inner = QVBoxLayout(card)
        inner.setContentsMargins(24, 18, 24, 18)
        inner.addWidget(self.stack, 1)
        inner.addLayout(buttons)

        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addLayout(choose)
        layout.addWidget(self.anyone)
        layout.addWidget(self.choose_note)
        layout.addWidget(card, 1)
        env.selection.sig_lab_changed.connect(lambda _name: self.reload())
        self.reload()

    # --- choosing ---------------------------------------------------------------------------
    def _current_lab(self) -> Lab | None:
        name = self.env.selection.name
        lab = self.ctx.labs.find(name) if name else None
        if lab is None:
            labs = self.ctx.labs.list()
            lab = labs[0] if labs else None
        return lab

    def reload(self) -> None:
        """Fill the person list for the lab; leaves any induction in progress."""
        self.lab = self._current_lab()
        self.heading.setText(f"Induction: {self.lab.name}" if self.lab else "Induction")
        self.person_box.clear()
        visitors: list[Visitor] = []
        if self.lab is not None:
            visitors = (self.service.everyone(self.lab) if self.anyone.isChecked()
                        else self.service.checked_in_today(self.lab))
        for v in visitors:
            self.person_box.addItem(v.label, v)
        if self.lab is None:
            note = "Add a lab first."
        elif not visitors:
            note = ("Nobody is checked in at this lab today; check the booking in under "
                    "Bookings, or tick Anyone.")
        else:
            note = ""
        self.choose_note.setText(note)
        self.start_button.setEnabled(bool(visitors))
        self._show(self.PAGE_INTRO)

    def choose(self, email: str) -> None:
        """Select a person in the list by email."""
        for i in range(self.person_box.count()):
            if self.person_box.itemData(i).person.email == email:
                self.person_box.setCurrentIndex(i)
                return
        raise KeyError(email)

    def start(self) -> None:
        visitor = self.person_box.currentData()
        if visitor is None or self.lab is None:
            return
        try:
            self.content = self.service.visit_content(self.lab, visitor)
        except ValidationError as exc:
            self.env.errors.report(f"The induction content cannot be used: {exc.message}")
            return
        self.visitor = visitor
        self.recorded = None
        self.index = 0
        self.signature.clear()
        self.staff_name.clear()
        self.password.clear()
        self._show_section()

    def cancel(self) -> None:
        self.visitor = None
        self.content = None
        self._show(self.PAGE_INTRO)

    # --- sections ---------------------------------------------------------------------------
    @property
    def section(self) -> Section | None:
        if self.content is None or self.stack.currentIndex() != self.PAGE_SECTION:
            return None
        return self.content.sections[self.index]

    def _show_section(self) -> None:
        assert self.content is not None
        section = self.content.sections[self.index]
        self.step_label.setText(f"{self.content.title}: section {self.index + 1} of "
                                f"{len(self.content.sections)}")
        self.section_title.setText(section.title)
        self.section_text.setText(section.text)
        self.question.setText(section.question.prompt)
        for button in self.choice_group.buttons():
            self.choice_group.removeButton(button)
            self.choices_box.removeWidget(button)
            button.deleteLater()
        for i, text in enumerate(section.question.choices):
            button = QRadioButton(text)
            self.choice_group.addButton(button, i)
            self.choices_box.addWidget(button)
        self.feedback.clear()
        self._show(self.PAGE_SECTION)
        self.next_button.setEnabled(False)

    def choice_buttons(self) -> list[QRadioButton]:
        return [self.choice_group.button(i) for i in range(len(self.choice_group.buttons()))]

    def answer(self, choice: int) -> None:
        """Check the chosen answer; Next is enabled only when it is right."""
        section = self.section
        if section is None:
            return
        result = check_answer(section, choice)
        self.feedback.setText(result.message)
        self.feedback.setStyleSheet(_RIGHT if result.correct else _WRONG)
        self.next_button.setEnabled(result.correct)

    # --- navigation -------------------------------------------------------------------------
    def _show(self, page: int) -> None:
        self.stack.setCurrentIndex(page)
        in_wizard = page in (self.PAGE_SECTION, self.PAGE_SIGN)
        self.person_box.setEnabled(not in_wizard)
        self.anyone.setEnabled(not in_wizard)
        self.start_button.setVisible(not in_wizard)
        self.back_button.setVisible(in_wizard)
        self.next_button.setVisible(in_wizard)
        self.cancel_button.setVisible(in_wizard)
        self.next_button.setText("Record induction" if page == self.PAGE_SIGN else "Next")
        if page == self.PAGE_SIGN:
            self._signature_changed()

    def back(self) -> None:
        if self.stack.currentIndex() == self.PAGE_SIGN and self.content is not None:
            self.index = len(self.content.sections) - 1
            self._show_section()
        elif self.stack.currentIndex() == self.PAGE_SECTION and self.index > 0:
            self.index -= 1
            self._show_section()
        else:
            self.cancel()

    def next(self) -> None:
        page = self.stack.currentIndex()
        if page == self.PAGE_SECTION and self.content is not None:
            checked = self.choice_group.checkedId()
            if not check_answer(self.content.sections[self.index],
                                None if checked < 0 else checked).correct:
                return
            if self.index + 1 < len(self.content.sections):
                self.index += 1
                self._show_section()
            else:
                self._show_sign()
        elif page == self.PAGE_SIGN:
            self.record()

    # --- signing ----------------------------------------------------------------------------
    def _show_sign(self) -> None:
        no_accounts = not self.accounts.any_accounts()
        self.countersign_note.setText(NO_ACCOUNTS_NOTE if no_accounts else
                                      "A staff member types their MeterLab name and password.")
        self.staff_name.setEnabled(not no_accounts)
        self.password.setEnabled(not no_accounts)
        self.sign_feedback.clear()
        self._show(self.PAGE_SIGN)

    def _signature_changed(self) -> None:
        if self.stack.currentIndex() == self.PAGE_SIGN:
            self.next_button.setEnabled(bool(self.signature.text().strip()))

    def record(self) -> bool:
        """Check both signatures and record the induction; says what is wrong if not."""
        if self.visitor is None or self.content is None or self.lab is None:
            return False
        person = self.visitor.person
        try:
            check_signature(self.signature.text(), person.name)
            signed = countersign(self.accounts, self.staff_name.text(), self.password.text())
            booking_id = self.visitor.booking.id if self.visitor.booking else None
            self.recorded = self.service.record(self.lab, person, self.content,
                                                self.signature.text(), signed, booking_id)
        except ValidationError as exc:
            self._sign_refused(exc.message)
            return False
        except RuleRefusal as exc:
            self._sign_refused(str(exc))
            return False
        except account_locked_error() as exc:
            self._sign_refused(str(exc))
            return False
        self.password.clear()
        ind = self.recorded
        self.done_label.setText(
            f"<h3>Induction recorded</h3><p>{person.name} ({self.visitor.org_name}) is inducted "
            f"for {self.lab.name} on {ind.date:%d %b %Y}, valid until "
            f"{ind.valid_until:%d %b %Y}.</p><p>Content version {self.content.version}, SHA-256 "
            f"<tt>{ind.content_sha256}</tt>.</p><p>Signed by {ind.participant_signature}; "
            f"countersigned by {ind.countersigned_by}.</p>")
        self.env.show_status(f"Induction recorded for {person.name} at {self.lab.name}.")
        self._show(self.PAGE_DONE)
        return True

    def _sign_refused(self, message: str) -> None:
        self.password.clear()
        self.sign_feedback.setText(message)
        self.sign_feedback.setStyleSheet(_WRONG)
