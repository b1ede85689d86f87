"""Checks of what a person sees, with the font metrics Qt lays text out with.

- :func:`elided_headers`: a table's column title wider than its column.
- :func:`elided_values`: a cell's text (of at most 40 characters) wider than its column.
- :func:`hidden_columns`: columns past the right edge of a table (a horizontal scroll bar).
- :func:`overlaps`: sibling widgets of one layout drawn over each other.
- :func:`elided_without_tooltip`: a long value cut off with no tooltip giving it whole.

Each returns sentences naming where the fault is, empty when there is none.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QRect, Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import (
    QAbstractItemView,
    QStyleOptionViewItem,
    QTableView,
    QTreeView,
    QWidget,
)

#: Values this long or shorter are never cut off.
SHORT = 40


def _name(view: QWidget) -> str:
    chain = []
    w: QWidget | None = view
    while w is not None and len(chain) < 4:
        chain.append(w.objectName() or type(w).__name__)
        w = w.parentWidget()
    return "/".join(reversed(chain))


def visible_views(root: QWidget) -> list[QAbstractItemView]:
    """Table and tree views under `root` that are on screen (their page and tab shown)."""
    return [v for v in root.findChildren(QAbstractItemView)
            if isinstance(v, QTableView | QTreeView) and v.isVisible() and v.width() > 0
            and v.model() is not None]


def _header(view: QAbstractItemView):
    return view.horizontalHeader() if isinstance(view, QTableView) else view.header()


def _columns(view: QAbstractItemView) -> list[int]:
    header = _header(view)
    return [c for c in range(view.model().columnCount()) if not header.isSectionHidden(c)]


def elided_headers(root: QWidget) -> list[str]:
    out = []
    for view in visible_views(root):
        header = _header(view)
        if header.isHidden():
            continue
        for col in _columns(view):
            title = view.model().headerData(col, Qt.Orientation.Horizontal)
            need = _title_need(header, col)
            if title and need > header.sectionSize(col):
                out.append(f"{_name(view)}: header {title!r} needs {need} px, has "
                           f"{header.sectionSize(col)}")
    return out


def _title_need(header, col: int) -> int:
    """Qt's size for a section's title, the sort arrow counted only where it is drawn."""
    from PySide6.QtCore import QSize
    from PySide6.QtWidgets import QStyle, QStyleOptionHeader

    option = QStyleOptionHeader()
    header.initStyleOption(option)
    option.section = col
    option.text = str(header.model().headerData(col, header.orientation()) or "")
    option.fontMetrics = header.fontMetrics()
    sorted_here = header.isSortIndicatorShown() and header.sortIndicatorSection() == col
    option.sortIndicator = (QStyleOptionHeader.SortIndicator.SortDown if sorted_here
                            else QStyleOptionHeader.SortIndicator.None_)
    return header.style().sizeFromContents(QStyle.ContentsType.CT_HeaderSection, option,
                                           QSize(), header).width()


def _cell_need(view: QAbstractItemView, index: QModelIndex) -> int:
    option = QStyleOptionViewItem()
    view.initViewItemOption(option)
    option.rect = QRect()
    grid = 1 if isinstance(view, QTableView) and view.showGrid() else 0  # a pixel of the cell
    return view.itemDelegateForIndex(index).sizeHint(option, index).width() + grid


def _fits_wrapped(view: QAbstractItemView, index: QModelIndex, text: str, width: int) -> bool:
    """A word-wrapping view shows a value whole on several lines when its row is tall enough."""
    if not view.wordWrap():
        return False
    font = index.data(Qt.ItemDataRole.FontRole) or view.font()
    metrics = QFontMetrics(font)
    box = metrics.boundingRect(QRect(0, 0, width - 8, 10_000),
                               int(Qt.TextFlag.TextWordWrap), text)
    height = view.rowHeight(index.row()) if isinstance(view, QTableView) else \
        view.visualRect(index).height()
    return box.width() <= width - 8 and box.height() <= height


def _cells(view: QAbstractItemView, limit: int = 100):
    model = view.model()
    for row in range(min(model.rowCount(), limit)):
        if isinstance(view, QTableView) and view.isRowHidden(row):
            continue
        for col in _columns(view):
            index = model.index(row, col)
            text = index.data(Qt.ItemDataRole.DisplayRole)
            if text is None or text == "":
                continue
            yield index, str(text)


def elided_values(root: QWidget, short: int = SHORT) -> list[str]:
    out = []
    for view in visible_views(root):
        header = _header(view)
        for index, text in _cells(view):
            if len(text) > short:
                continue
            width = header.sectionSize(index.column())
            need = _cell_need(view, index)
            if need > width and not _fits_wrapped(view, index, text, width):
                title = view.model().headerData(index.column(), Qt.Orientation.Horizontal)
                out.append(f"{_name(view)}: {title!r} value {text!r} needs {need} px, has {width}")
    return out


def elided_without_tooltip(root: QWidget) -> list[str]:
    """Values cut off (any length) whose cell gives no tooltip to read them whole."""
    out = []
    for view in visible_views(root):
        header = _header(view)
        for index, text in _cells(view):
            width = header.sectionSize(index.column())
            if _cell_need(view, index) <= width or _fits_wrapped(view, index, text, width):
                continue
            tip = index.data(Qt.ItemDataRole.ToolTipRole)
            if not tip and not view.property("elidedTooltips"):
                out.append(f"{_name(view)}: {text[:50]!r} is cut off and has no tooltip")
    return out


def hidden_columns(root: QWidget) -> list[str]:
    out = []
    for view in visible_views(root):
        header = _header(view)
        total = sum(header.sectionSize(c) for c in _columns(view))
        room = view.viewport().width()
        if total > room:
            out.append(f"{_name(view)}: columns need {total} px, the table shows {room}")
    return out


def scrolled_text(root: QWidget) -> list[str]:
    """Text views whose lines run past their right edge (a horizontal scroll bar is shown)."""
    from PySide6.QtWidgets import QPlainTextEdit, QTextEdit

    return [f"{_name(v)}: text runs past the right edge"
            for v in root.findChildren(QPlainTextEdit) + root.findChildren(QTextEdit)
            if v.isVisible() and v.horizontalScrollBar().isVisible()]


def status_message_cut(window: QWidget) -> list[str]:
    """The status bar's message wider than the room its lasting widgets leave it."""
    from PySide6.QtWidgets import QMainWindow

    if not isinstance(window, QMainWindow):
        return []
    bar = window.statusBar()
    message = bar.currentMessage()
    if not message:
        return []
    lasting = [w for w in bar.findChildren(QWidget) if w.isVisible() and w.parentWidget() is bar
               and w.objectName() != "qt_statusbar_sizegrip" and w.x() > 0]
    room = min((w.x() for w in lasting), default=bar.width()) - 8
    need = bar.fontMetrics().horizontalAdvance(message)
    return [f"status bar: {message!r} needs {need} px, has {room}"] if need > room else []


def overlaps(root: QWidget) -> list[str]:
    """Visible widgets laid out by one layout whose rectangles intersect."""
    out = []
    for widget in [root, *root.findChildren(QWidget)]:
        layout = widget.layout()
        if layout is None or not widget.isVisible():
            continue
        items = [child for child in widget.findChildren(
                     QWidget, options=Qt.FindChildOption.FindDirectChildrenOnly)
                 if child.isVisible() and not child.isWindow() and _in_nested(layout, child)]
        for i, a in enumerate(items):
            for b in items[i + 1:]:
                inter = a.geometry().intersected(b.geometry())
                if inter.width() > 1 and inter.height() > 1:
                    out.append(f"{_name(a)} overlaps {_name(b)} by {inter.width()}x{inter.height()}")
    return out


def _in_nested(layout, child: QWidget) -> bool:
    for i in range(layout.count()):
        item = layout.itemAt(i)
        if item.widget() is child:
            return True
        if item.layout() is not None and _in_nested(item.layout(), child):
            return True
    return False


def clipped_widgets(root: QWidget) -> list[str]:
    """Visible buttons, labels and drop-downs laid out too small for their text."""
    from PySide6.QtWidgets import (
        QAbstractButton,
        QCheckBox,
        QComboBox,
        QLabel,
        QPushButton,
        QRadioButton,
    )

    out = []
    for w in root.findChildren(QWidget):
        if not w.isVisible() or w.objectName().startswith("qt_"):
            continue
        metrics = w.fontMetrics()
        if isinstance(w, QCheckBox | QRadioButton):
            need = w.minimumSizeHint().width()
        elif isinstance(w, QPushButton | QAbstractButton):
            text = w.text().replace("&&", "\0").replace("&", "").replace("\0", "&")
            if not text:
                continue
            icon = w.iconSize().width() + 4 if not w.icon().isNull() else 0
            need = metrics.horizontalAdvance(text) + icon + 8
        elif isinstance(w, QComboBox):
            if not w.currentText():
                continue
            need = metrics.horizontalAdvance(w.currentText()) + 24
        elif isinstance(w, QLabel):
            if w.wordWrap() or not w.text() or w.textFormat() == Qt.TextFormat.RichText \
                    or (w.pixmap() is not None and not w.pixmap().isNull()):
                continue
            need = w.sizeHint().width()
        else:
            continue
        if w.width() + 1 < need:
            text = getattr(w, "text", getattr(w, "currentText", lambda: ""))()
            out.append(f"{_name(w)} {str(text)[:40]!r} is {w.width()} px wide, needs {need}")
    return out
