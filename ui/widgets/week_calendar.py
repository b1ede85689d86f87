"""A painted week calendar: days across, hours down, bookings as blocks, hourly use per day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetrics,
    QHelpEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
)
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from app.domain.bookings import ACTIVE_STATUSES, BookingStatus
from app.services.calendar_view import DayBlock, WeekView, use_fraction
from ui.theme import (
    PHASE_LABELS,
    STATUS_STYLE,
    capacity_colour,
    spaces_text,
    status_fill,
    status_label,
    status_text,
)

GUTTER_W = 54  # hour labels
HEADER_H = 52  # day name, date, holiday
STRIP_W = 36  # per-hour "used/capacity" strip in each day
WEEKEND_WEIGHT = 0.45  # weekend columns are narrower: the lab is closed then
MIN_ROW_H = 30
LANE_WEIGHT = 0.75  # each further side-by-side lane widens its day by three quarters


@dataclass(frozen=True)
class PlacedBlock:
    """A booking block where it is painted."""

    rect: QRectF
    block: DayBlock

    @property
    def booking_id(self) -> int:
        return self.block.booking.id


class WeekCalendar(QWidget):
    """Paints a :class:`~app.services.calendar_view.WeekView`; click selects, double-click opens."""

    sig_booking_selected = Signal(int)
    sig_booking_activated = Signal(int)
    sig_new_booking_requested = Signal(object, int)  # (date, hour) of an empty slot

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("weekCalendar")
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._view: WeekView | None = None
        self._placed: list[PlacedBlock] = []
        self._columns: list[tuple[float, float]] = []  # x, width per day
        self._selected: int | None = None
        self.show_inactive = False
        #: The per-hour use of the lab's spaces. A participant's calendar holds only its own
        #: bookings, so a count there would understate the lab's use: it is not shown.
        self.show_capacity = True

    # --- data ----------------------------------------------------------------------------------
    def set_view(self, view: WeekView) -> None:
        self._view = view
        if self._selected is not None and not any(b.booking.id == self._selected for b in view.blocks):
            self._selected = None
        self._relayout()
        self.update()

    def view(self) -> WeekView | None:
        return self._view

    def selected_id(self) -> int | None:
        return self._selected

    def select(self, booking_id: int | None, emit: bool = False) -> None:
        self._selected = booking_id
        self.update()
        if emit and booking_id is not None:
            self.sig_booking_selected.emit(booking_id)

    def placed_blocks(self) -> list[PlacedBlock]:
        """Blocks as laid out for the current size (for hit-testing and tests)."""
        return list(self._placed)

    def booking_at(self, point: QPointF) -> int | None:
        """Id of the booking drawn at `point` (widget coordinates), or None."""
        for placed in reversed(self._placed):
            if placed.rect.contains(point):
                return placed.booking_id
        return None

    def day_column_rect(self, day_index: int) -> QRectF:
        x, w = self._columns[day_index]
        return QRectF(x, HEADER_H, w, self._grid_height())

    def strip_rect(self, day_index: int, hour: int) -> QRectF:
        assert self._view is not None
        x, _ = self._columns[day_index]
        return QRectF(x + 1, self._y_of(float(hour)), self.strip_w - 2, self._row_h())

    @property
    def strip_w(self) -> int:
        """Width of each day's hourly-use strip (none when capacity is not shown)."""
        return STRIP_W if self.show_capacity else 0

    def cell_at(self, point: QPointF) -> tuple[int, int] | None:
        """(day index, hour) of the grid cell under `point`, or None outside the grid."""
        if self._view is None or point.y() < HEADER_H:
            return None
        for index, (x, w) in enumerate(self._columns):
            if x <= point.x() < x + w:
                hour = self._view.first_hour + int((point.y() - HEADER_H) // self._row_h())
                if self._view.first_hour <= hour < self._view.last_hour:
                    return index, hour
        return None

    # --- geometry ------------------------------------------------------------------------------
    def sizeHint(self) -> QSize:
        return QSize(980, HEADER_H + 12 * 46)

    def minimumSizeHint(self) -> QSize:
        return QSize(GUTTER_W + 7 * 70, HEADER_H + 12 * MIN_ROW_H)

    def _hours(self) -> int:
        return (self._view.last_hour - self._view.first_hour) if self._view else 12

    def _grid_height(self) -> float:
        return max(self.height() - HEADER_H - 1, self._hours() * MIN_ROW_H)

    def _row_h(self) -> float:
        return self._grid_height() / self._hours()

    def _y_of(self, hour: float) -> float:
        first = self._view.first_hour if self._view else 7
        return HEADER_H + (hour - first) * self._row_h()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._relayout()

    def _relayout(self) -> None:
        self._columns = []
        self._placed = []
        if self._view is None:
            return
        # A day whose bookings overlap is wider, so its side-by-side blocks stay readable.
        lanes = [1] * len(self._view.days)
        for block in self._shown_blocks():
            lanes[block.day_index] = max(lanes[block.day_index], block.columns)
        weights = [(WEEKEND_WEIGHT if d.weekend else 1.0) * (1 + LANE_WEIGHT * (n - 1))
                   for d, n in zip(self._view.days, lanes, strict=True)]
        usable = max(self.width() - GUTTER_W - 1, 7 * 40)
        x = float(GUTTER_W)
        for wt in weights:
            w = usable * wt / sum(weights)
            self._columns.append((x, w))
            x += w
        for block in self._shown_blocks():
            col_x, col_w = self._columns[block.day_index]
            area_x, area_w = col_x + self.strip_w + 2, col_w - self.strip_w - 5
            lane_w = area_w / block.columns
            rect = QRectF(area_x + block.column * lane_w, self._y_of(block.start_h) + 1,
                          lane_w - 2, (block.end_h - block.start_h) * self._row_h() - 2)
            self._placed.append(PlacedBlock(rect, block))

    def _shown_blocks(self) -> list[DayBlock]:
        assert self._view is not None
        return [b for b in self._view.blocks
                if self.show_inactive or b.booking.status in ACTIVE_STATUSES
                or b.booking.status is BookingStatus.COMPLETED]

    # --- painting ------------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), self.palette().base())
        if self._view is None:
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No lab selected.")
            return
        self._paint_background(p)
        if self.show_capacity:
            self._paint_strips(p)
        # The now line runs under the bookings (their text stays readable) and its dot on the
        # day's edge over them, so where now is shows even behind a booking.
        self._paint_now(p, line=True)
        self._paint_blocks(p)
        self._paint_now(p, line=False)
        self._paint_header(p)
        if self.hasFocus():  # where the keys go: arrows move between bookings, Enter opens
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.setPen(QPen(self.palette().highlight().color(), 2))
            p.drawRect(QRectF(self.rect()).adjusted(1, 1, -1, -1))
        p.end()

    def _paint_background(self, p: QPainter) -> None:
        view = self._view
        assert view is not None
        grid_bottom = HEADER_H + self._grid_height()
        faint = QColor("#f3f4f6")
        closed = QColor("#eceef1")
        hatch = QBrush(QColor("#dcdfe4"), Qt.BrushStyle.BDiagPattern)
        for index, day in enumerate(view.days):
            x, w = self._columns[index]
            col = QRectF(x, HEADER_H, w, self._grid_height())
            if not day.working:
                p.fillRect(col, closed)
                p.fillRect(col, hatch)
                continue
            if day.is_today:
                p.fillRect(col, QColor("#f2f7ff"))
            # Outside opening hours: shown, but faintly.
            if day.opens_h is not None and day.closes_h is not None:
                p.fillRect(QRectF(x, HEADER_H, w, self._y_of(day.opens_h) - HEADER_H), faint)
                p.fillRect(QRectF(x, self._y_of(day.closes_h), w, grid_bottom - self._y_of(day.closes_h)),
                           faint)
        # Hour lines and labels.
        small = QFont(self.font())
        small.setPointSizeF(max(small.pointSizeF() - 1, 7))
        p.setFont(small)
        for hour in range(view.first_hour, view.last_hour + 1):
            y = self._y_of(float(hour))
            p.setPen(QPen(QColor("#d5d8dd"), 1))
            p.drawLine(QPointF(GUTTER_W - 4, y), QPointF(self.width(), y))
            if hour < view.last_hour:
                open_hour = any(d.opens_h is not None and d.opens_h <= hour < (d.closes_h or 0)
                                for d in view.days)
                p.setPen(QColor("#333a44") if open_hour else QColor("#a3a9b2"))
                p.drawText(QRectF(0, y + 2, GUTTER_W - 8, 16),
                           Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop, f"{hour:02d}:00")
        for index, (x, w) in enumerate(self._columns):
            p.setPen(QPen(QColor("#c4c8ce"), 1))
            p.drawLine(QPointF(x, HEADER_H), QPointF(x, grid_bottom))
            day = view.days[index]
            if not day.working:
                p.setPen(QColor("#7a808a"))
                text = day.holiday or "Closed"
                p.drawText(QRectF(x + 4, HEADER_H + self._grid_height() / 2 - 30, w - 8, 60),
                           Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, text)
            if day.is_today:
                p.setPen(QPen(QColor("#3d7bd9"), 2))
                p.drawRect(QRectF(x + 1, HEADER_H, w - 2, self._grid_height()))

    def _paint_header(self, p: QPainter) -> None:
        view = self._view
        assert view is not None
        p.fillRect(QRectF(0, 0, self.width(), HEADER_H), self.palette().window())
        bold = QFont(self.font())
        bold.setBold(True)
        small = QFont(self.font())
        small.setPointSizeF(max(small.pointSizeF() - 1, 7))
        for index, day in enumerate(view.days):
            x, w = self._columns[index]
            rect = QRectF(x, 0, w, HEADER_H)
            if day.is_today:
                p.fillRect(rect.adjusted(1, 2, -1, 0), QColor("#3d7bd9"))
            colour = QColor("#ffffff") if day.is_today else (
                QColor("#1f2630") if day.working else QColor("#7a808a"))
            p.setPen(colour)
            p.setFont(bold)
            name = f"{day.day:%a %d %b}" if w > 90 else f"{day.day:%a %d}"
            p.drawText(QRectF(x, 4, w, 18), Qt.AlignmentFlag.AlignCenter, name)
            p.setFont(small)
            note = "Today" if day.is_today else ""
            if day.holiday:
                note = f"{note} · {day.holiday}" if note else day.holiday
            elif day.working and not day.is_today:
                note = f"{view.lab.spaces} spaces"
            if note:
                metrics = QFontMetrics(small)
                p.drawText(QRectF(x + 2, 24, w - 4, 16), Qt.AlignmentFlag.AlignCenter,
                           metrics.elidedText(note, Qt.TextElideMode.ElideRight, int(w - 6)))
        p.setPen(QPen(QColor("#b8bcc3"), 1))
        p.drawLine(QPointF(0, HEADER_H), QPointF(self.width(), HEADER_H))
        p.setFont(small)
        p.setPen(QColor("#6b717b"))
        if self.show_capacity:
            p.drawText(QRectF(2, HEADER_H - 18, GUTTER_W - 4, 16), Qt.AlignmentFlag.AlignRight,
                       "used/cap")

    def _paint_strips(self, p: QPainter) -> None:
        view = self._view
        assert view is not None
        small = QFont(self.font())
        small.setPointSizeF(max(small.pointSizeF() - 1.5, 6.5))
        p.setFont(small)
        for index, day in enumerate(view.days):
            for row, used in enumerate(view.hourly_used[index]):
                hour = view.first_hour + row
                in_hours = day.opens_h is not None and day.opens_h <= hour < (day.closes_h or 0)
                if not in_hours and used == 0:
                    continue
                rect = self.strip_rect(index, hour).adjusted(1, 1, -1, -1)
                frac = use_fraction(used, view.capacity)
                p.fillRect(rect, capacity_colour(frac))
                p.setPen(QColor("#ffffff") if frac >= 0.95 else
                         QColor("#2b3038") if used else QColor("#8a9099"))
                p.drawText(rect, Qt.AlignmentFlag.AlignCenter, f"{used}/{view.capacity}")

    def _paint_blocks(self, p: QPainter) -> None:
        bold = QFont(self.font())
        bold.setBold(True)
        normal = QFont(self.font())
        normal.setPointSizeF(max(normal.pointSizeF() - 0.5, 7))
        for placed in self._placed:
            b = placed.block.booking
            rect = placed.rect
            fill = status_fill(b.status)
            inactive = b.status not in ACTIVE_STATUSES
            if inactive:
                fill.setAlpha(150)
            p.setPen(QPen(fill.darker(135), 1))
            p.setBrush(fill)
            p.drawRoundedRect(rect, 4, 4)
            p.fillRect(QRectF(rect.x(), rect.y() + 2, 4, rect.height() - 4), fill.darker(150))
            if b.id == self._selected:
                p.setBrush(Qt.BrushStyle.NoBrush)
                p.setPen(QPen(QColor("#11161d"), 2.5))
                p.drawRoundedRect(rect.adjusted(1, 1, -1, -1), 4, 4)
            self._paint_block_text(p, placed, bold, normal)

    def block_details(self, placed: PlacedBlock) -> list[str]:
        """What a block says below its organisation's name."""
        b = placed.block.booking
        view = self._view
        assert view is not None
        start, end = view.lab.local(b.start), view.lab.local(b.end)
        details = [
            f"{spaces_text(b.spaces)} · {PHASE_LABELS.get(b.phase.value, b.phase.value)}",
            f"{start:%H:%M}–{end:%H:%M}",
            status_label(b.status),
        ]
        if b.benches:
            details.append(", ".join(b.benches))
        return details

    def block_lines(self, placed: PlacedBlock) -> tuple[list[tuple[QFont, str]], bool]:
        """The lines painted in a block and whether they say everything.

        Each text wraps at spaces (a word wider than the block at any character) onto as many
        lines as the block's height holds; what does not fit ends in an ellipsis, and the
        block's tooltip and the detail panel give it whole.
        """
        bold = QFont(self.font())
        bold.setBold(True)
        normal = QFont(self.font())
        normal.setPointSizeF(max(normal.pointSizeF() - 0.5, 7))
        rect = placed.rect.adjusted(8, 3, -4, -3)
        width = int(rect.width())
        texts = [(bold, placed.block.booking.org_name)] + \
            [(normal, t) for t in self.block_details(placed)]
        lines: list[tuple[QFont, str]] = []
        height = 0.0
        for font, text in texts:
            metrics = QFontMetrics(font)
            for line in wrap_text(text, metrics, width):
                if height + metrics.height() > rect.height() + 1:
                    if lines:  # the last line that fits says that more follows
                        last_font, last = lines[-1]
                        lines[-1] = (last_font, QFontMetrics(last_font).elidedText(
                            last + "…", Qt.TextElideMode.ElideRight, width))
                    return lines, False
                lines.append((font, metrics.elidedText(line, Qt.TextElideMode.ElideRight,
                                                       width)))
                height += metrics.height()
        return lines, True

    def elided_blocks(self) -> list[int]:
        """Ids of the bookings whose block cannot say everything at the current size."""
        return [p.booking_id for p in self._placed if not self.block_lines(p)[1]]

    def _paint_block_text(self, p: QPainter, placed: PlacedBlock, bold: QFont, normal: QFont) -> None:
        b = placed.block.booking
        rect = placed.rect.adjusted(8, 3, -4, -3)
        p.setPen(status_text(b.status))
        y = rect.y()
        for font, text in self.block_lines(placed)[0]:
            metrics = QFontMetrics(font)
            p.setFont(font)
            p.drawText(QRectF(rect.x(), y, rect.width() + 2, metrics.height()),
                       Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, text)
            y += metrics.height()

    def _paint_now(self, p: QPainter, line: bool) -> None:
        """Now on today's column: the line (`line`) or the dot at the column's left edge."""
        view = self._view
        assert view is not None
        now = view.now_local
        for index, day in enumerate(view.days):
            if day.day != now.date():
                continue
            hour = now.hour + now.minute / 60
            if not view.first_hour <= hour <= view.last_hour:
                return
            x, w = self._columns[index]
            y = self._y_of(hour)
            if line:
                p.setPen(QPen(QColor("#d64545"), 2))
                p.drawLine(QPointF(x, y), QPointF(x + w, y))
            else:
                p.setPen(Qt.PenStyle.NoPen)
                p.setBrush(QColor("#d64545"))
                p.drawEllipse(QPointF(x, y), 4, 4)

    # --- interaction ---------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            hit = self.booking_at(event.position())
            if hit is not None:
                self.select(hit, emit=True)
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        hit = self.booking_at(event.position())
        if hit is not None:
            self.select(hit, emit=True)
            self.sig_booking_activated.emit(hit)
            return
        cell = self.cell_at(event.position())
        if cell is not None and self._view is not None:
            day: date = self._view.days[cell[0]].day
            self.sig_new_booking_requested.emit(day, cell[1])

    def focusInEvent(self, event) -> None:
        super().focusInEvent(event)
        self.update()

    def focusOutEvent(self, event) -> None:
        super().focusOutEvent(event)
        self.update()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        order = [pb.booking_id for pb in sorted(
            self._placed, key=lambda pb: (pb.block.day_index, pb.block.start_h, pb.block.column))]
        unique = list(dict.fromkeys(order))
        key = event.key()
        if unique and key in (Qt.Key.Key_Down, Qt.Key.Key_Right, Qt.Key.Key_Up, Qt.Key.Key_Left):
            step = 1 if key in (Qt.Key.Key_Down, Qt.Key.Key_Right) else -1
            pos = unique.index(self._selected) + step if self._selected in unique else 0
            self.select(unique[pos % len(unique)], emit=True)
            return
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self._selected is not None:
            self.sig_booking_activated.emit(self._selected)
            return
        super().keyPressEvent(event)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            text = self.tooltip_at(QPointF(event.pos()))
            if text:
                QToolTip.showText(event.globalPos(), text, self)
            else:
                QToolTip.hideText()
                event.ignore()
            return True
        return super().event(event)

    def tooltip_at(self, point: QPointF) -> str:
        """The tooltip for `point`: a booking's summary or an hour's use of capacity."""
        view = self._view
        if view is None:
            return ""
        hit = self.booking_at(point)
        if hit is not None:
            b = next(pb.block.booking for pb in self._placed if pb.booking_id == hit)
            start, end = view.lab.local(b.start), view.lab.local(b.end)
            parts = [
                f"<b>#{b.id} {b.org_name}</b>",
                f"{start:%a %d %b %H:%M} – {end:%a %d %b %H:%M}",
                f"{spaces_text(b.spaces)} · {PHASE_LABELS.get(b.phase.value)} · {status_label(b.status)}",
            ]
            if b.benches:
                parts.append("Benches: " + ", ".join(b.benches))
            if b.attendees:
                parts.append("Attendees: " + ", ".join(b.attendees))
            if b.override:
                parts.append(f"<i>Override: {b.override}</i>")
            parts.append("Double-click for details.")
            return "<br>".join(parts)
        cell = self.cell_at(point)
        if cell is None:
            return ""
        index, hour = cell
        day = view.days[index]
        if not day.working:
            return f"{day.day:%A %d %B}: {day.holiday or 'the lab is closed'}."
        if not self.show_capacity:
            return f"{day.day:%a %d %b} {hour:02d}:00–{hour + 1:02d}:00: the lab is open."
        used = view.hourly_used[index][hour - view.first_hour]
        return (f"{day.day:%a %d %b} {hour:02d}:00–{hour + 1:02d}:00: {used} of {view.capacity} "
                f"spaces held, {max(view.capacity - used, 0)} free. Double-click to book.")


def wrap_text(text: str, metrics: QFontMetrics, width: int) -> list[str]:
    """`text` in lines no wider than `width`: broken at spaces, a longer word at any character."""
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if metrics.horizontalAdvance(candidate) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = ""
        # A word wider than the block breaks at any character, unless the block is too narrow
        # for that to be readable (under five characters): it is then elided.
        while metrics.horizontalAdvance(word) > width >= 5 * metrics.averageCharWidth() \
                and len(word) > 1:
            cut = len(word) - 1
            while cut > 1 and metrics.horizontalAdvance(word[:cut]) > width:
                cut -= 1
            dash = max(word.rfind("–", 0, cut), word.rfind("-", 0, cut))
            if dash > 0:  # "09:00–17:00" breaks after its dash
                cut = dash + 1
            lines.append(word[:cut])
            word = word[cut:]
        current = word
    if current or not lines:
        lines.append(current)
    return lines


class CalendarLegend(QWidget):
    """Status colours and the capacity ramp, painted to match the calendar."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFixedHeight(26)
        #: Whether the calendar shows the hourly use of spaces (not in a participant's).
        self.show_capacity = True

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        metrics = QFontMetrics(self.font())
        x = 4.0
        y = (self.height() - 14) / 2
        for status in (BookingStatus.REQUESTED, BookingStatus.SCHEDULED, BookingStatus.CHECKED_IN,
                       BookingStatus.COMPLETED):
            fill, _, label = STATUS_STYLE[status]
            p.setPen(QPen(QColor(fill).darker(135), 1))
            p.setBrush(QColor(fill))
            p.drawRoundedRect(QRectF(x, y, 22, 14), 3, 3)
            p.setPen(self.palette().windowText().color())
            p.drawText(QPointF(x + 28, y + 11), label)
            x += 28 + metrics.horizontalAdvance(label) + 18
        if not self.show_capacity:
            p.end()
            return
        x += 10
        label = "Hourly spaces used:"
        p.drawText(QPointF(x, y + 11), label)
        x += metrics.horizontalAdvance(label) + 8
        for i, text in enumerate(("0%", "60%", "85%", "full")):
            frac = (0.0, 0.6, 0.85, 1.0)[i]
            p.fillRect(QRectF(x, y, 40, 14), capacity_colour(frac))
            p.setPen(QColor("#ffffff") if frac >= 0.95 else QColor("#2b3038"))
            p.drawText(QRectF(x, y, 40, 14), Qt.AlignmentFlag.AlignCenter, text)
            x += 42
        p.end()
