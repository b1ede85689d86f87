"""Table columns sized to what they hold: short values whole, long ones elided with a tooltip.

:func:`fit_columns` gives a table view a :class:`ColumnFitter`. Each column is as wide as its
title and its values need, a value longer than :data:`SHORT` characters counting only as its
first :data:`SHORT` characters (it is elided, and its tooltip gives it whole). The width left
over goes to one stretch column; when the columns need more than the table has, the stretch
column gives up its width first (down to its title and :data:`SHORT` characters' worth of its
shorter values), so every column stays in view.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QModelIndex, QObject, QRect, QSize, Qt, QTimer
from PySide6.QtGui import QFontMetrics, QHelpEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QStyle,
    QStyleOptionHeader,
    QStyleOptionViewItem,
    QTableView,
    QToolTip,
)

#: Values of this many characters or fewer are never elided.
SHORT = 40
#: Rows measured (the first ones, newest first in most tables).
MEASURED_ROWS = 100
#: Measured values remembered at most (then forgotten all at once).
CACHE_SIZE = 20_000


class ColumnFitter(QObject):
    """Keeps a view's column widths fitted to its header and contents (see the module doc)."""

    def __init__(self, view: QTableView, stretch: int | None = None,
                 short: int = SHORT) -> None:
        super().__init__(view)
        self.view, self.stretch, self.short = view, stretch, short
        self.needs: list[int] = []
        self._cache: dict[tuple[int, str, str, bool], int] = {}
        header = view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(False)
        # Narrow columns ("#", "Id") as narrow as their title and values.
        header.setMinimumSectionSize(min(header.minimumSectionSize(),
                                         header.fontMetrics().height()))
        view.setTextElideMode(Qt.TextElideMode.ElideRight)
        view.setProperty("elidedTooltips", True)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.fit)
        self._model = None
        self._watch_model()
        header.sortIndicatorChanged.connect(self.schedule)  # the arrow needs room there
        # Compared by identity only: during the view's destruction nothing of it is called.
        self._viewport = view.viewport()
        self._viewport.installEventFilter(self)
        view.installEventFilter(self)
        self.fit()

    def _watch_model(self) -> None:
        model = self.view.model()
        if model is self._model or model is None:
            return
        self._model = model
        for signal in (model.modelReset, model.rowsInserted, model.rowsRemoved,
                       model.dataChanged, model.layoutChanged, model.headerDataChanged):
            signal.connect(self.schedule)

    def schedule(self, *_args: object) -> None:
        """Fit again once control returns to the event loop (many changes, one fit)."""
        self._timer.start()

    # --- measuring -----------------------------------------------------------------------------
    def _option(self) -> QStyleOptionViewItem:
        option = QStyleOptionViewItem()
        self.view.initViewItemOption(option)
        option.rect = QRect()
        return option

    def value_need(self, index: QModelIndex, option: QStyleOptionViewItem | None = None) -> int:
        """Width a cell needs: all of a short value, the first `short` characters of a long one."""
        option = option or self._option()
        # The grid line takes a pixel of the cell (as in QTableView.sizeHintForColumn).
        hint = self.view.itemDelegateForIndex(index).sizeHint(option, index).width() \
            + (1 if self.view.showGrid() else 0)
        text = index.data(Qt.ItemDataRole.DisplayRole)
        if text is None:
            return hint
        lines = str(text).split("\n")
        longest = max(lines, key=len)
        if len(longest) <= self.short:
            return hint
        font = index.data(Qt.ItemDataRole.FontRole) or option.font
        metrics = QFontMetrics(font)
        full = max(metrics.horizontalAdvance(line) for line in lines)
        return hint - full + metrics.horizontalAdvance(longest[: self.short] + "…")

    def _cached_need(self, index: QModelIndex, option: QStyleOptionViewItem) -> int:
        """:meth:`value_need`, remembered by column, text, font and icon (a table refreshed each
        second measures only the values it has not seen)."""
        text = index.data(Qt.ItemDataRole.DisplayRole)
        if text is None or text == "":
            return 0
        font = index.data(Qt.ItemDataRole.FontRole)
        key = (index.column(), str(text), font.key() if font is not None else "",
               index.data(Qt.ItemDataRole.DecorationRole) is not None)
        need = self._cache.get(key)
        if need is None:
            if len(self._cache) > CACHE_SIZE:
                self._cache.clear()
            need = self._cache[key] = self.value_need(index, option)
        return need

    def column_need(self, column: int) -> int:
        need = header_need(self.view.horizontalHeader(), column)
        model = self.view.model()
        option = self._option()
        for row in range(min(model.rowCount(), MEASURED_ROWS)):
            need = max(need, self._cached_need(model.index(row, column), option))
        return need

    def _stretch_floor(self) -> int:
        """The least the stretch column may shrink to: its title and its short values whole."""
        assert self.stretch is not None
        floor = header_need(self.view.horizontalHeader(), self.stretch)
        model = self.view.model()
        option = self._option()
        for row in range(min(model.rowCount(), MEASURED_ROWS)):
            index = model.index(row, self.stretch)
            text = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
            if len(text) <= self.short:
                floor = max(floor, self._cached_need(index, option))
        return floor

    # --- fitting -------------------------------------------------------------------------------
    def fit(self) -> None:
        self._watch_model()
        model = self.view.model()
        if model is None:
            return
        header = self.view.horizontalHeader()
        columns = [c for c in range(model.columnCount()) if not header.isSectionHidden(c)]
        if not columns:
            return
        least = header.minimumSectionSize()
        needs = {c: max(self.column_need(c), least) for c in columns}
        room = self.view.viewport().width()
        stretch = self.stretch if self.stretch in needs else None
        if stretch is not None and room > 0:
            others = sum(w for c, w in needs.items() if c != stretch)
            needs[stretch] = max(room - others, self._stretch_floor())
        self.needs = [needs.get(c, 0) for c in range(model.columnCount())]
        header.blockSignals(True)
        try:
            for c, width in needs.items():
                if header.sectionSize(c) != width:
                    header.resizeSection(c, width)
        finally:
            header.blockSignals(False)
        header.viewport().update()

    # --- events --------------------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind == QEvent.Type.Resize and watched is self._viewport:
            self.fit()
        elif kind == QEvent.Type.ToolTip and watched is self._viewport \
                and isinstance(event, QHelpEvent):
            return self._tooltip(event)
        elif kind in (QEvent.Type.Show, QEvent.Type.FontChange, QEvent.Type.StyleChange) \
                and watched is self.view:
            if kind != QEvent.Type.Show:
                self._cache.clear()
            self.schedule()
        return False

    def is_elided(self, index: QModelIndex) -> bool:
        need = self.view.itemDelegateForIndex(index).sizeHint(self._option(), index).width()
        return need + (1 if self.view.showGrid() else 0) > self.view.visualRect(index).width()

    def _tooltip(self, event: QHelpEvent) -> bool:
        index = self.view.indexAt(event.pos())
        if not index.isValid() or index.data(Qt.ItemDataRole.ToolTipRole):
            return False  # the model's own tooltip
        text = index.data(Qt.ItemDataRole.DisplayRole)
        if text and self.is_elided(index):
            QToolTip.showText(event.globalPos(), str(text), self.view.viewport(),
                              self.view.visualRect(index))
        else:
            QToolTip.hideText()
            event.ignore()
        return True


def header_need(header: QHeaderView, section: int) -> int:
    """Width the title of `section` needs: room for the sort arrow only where it is drawn.

    Qt reserves the arrow's room in every section once a header shows sort indicators; only the
    sorted section draws it, so the others are measured without it.
    """
    full = header.sectionSizeFromContents(section).width()
    if not header.isSortIndicatorShown() or header.sortIndicatorSection() == section:
        return full
    option = QStyleOptionHeader()
    header.initStyleOption(option)
    option.section = section
    option.text = str(header.model().headerData(section, header.orientation()) or "")
    option.fontMetrics = header.fontMetrics()
    style = header.style()
    option.sortIndicator = QStyleOptionHeader.SortIndicator.SortDown
    with_arrow = style.sizeFromContents(QStyle.ContentsType.CT_HeaderSection, option, QSize(),
                                        header).width()
    option.sortIndicator = QStyleOptionHeader.SortIndicator.None_
    without = style.sizeFromContents(QStyle.ContentsType.CT_HeaderSection, option, QSize(),
                                     header).width()
    return full - max(with_arrow - without, 0)


def fit_columns(view: QAbstractItemView, stretch: int | None = None,
                short: int = SHORT) -> ColumnFitter:
    """Fit `view`'s columns to their contents, the spare width going to column `stretch`."""
    assert isinstance(view, QTableView)
    return ColumnFitter(view, stretch, short)
