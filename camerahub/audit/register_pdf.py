"""The viewing register as a printable PDF (A4 landscape), Japanese fonts embedded.

fpdf2 embeds a subset of the TrueType font it is given, so the PDF prints the same on any
machine. The font is the Debian package fonts-ipaexfont-gothic (IPAex Gothic), or the file
named by CAMERAHUB_REGISTER_FONT; without one the register cannot be printed in Japanese and
rendering fails with a message naming the package, never with mojibake.
"""

from __future__ import annotations

import os
from pathlib import Path

from .register import Register

FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
    "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
    "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf",
    "/usr/share/fonts/truetype/ipafont-gothic/ipag.ttf",
)
FONT_ENV = "CAMERAHUB_REGISTER_FONT"

LABELS = {
    "ja": {
        "title": "画像閲覧等記録簿", "month": "対象月", "tz": "時刻", "generated": "作成日時",
        "site_all": "全拠点", "site": "拠点", "chain": "監査ログの検証",
        "chain_ok": "改ざんなし（{n} 件を検証）",
        "chain_bad": "警告：監査ログの連鎖が壊れています（{problem}）。この記録簿は改ざん"
                     "された可能性のある記録から作成されています。",
        "anchor": "（アンカー：{seq} 件目まで一致）",
        "accesses": "映像の閲覧・再生・静止画・ライブ・書き出し",
        "unknown_site": "拠点不明（カメラ不明・匿名アクセス）",
        "no_rows": "該当なし",
        "cols": ("番号", "日時", "閲覧者", "役割", "操作", "カメラ", "部屋", "対象映像",
                 "目的（理由・インシデント）", "結果"),
        "disposals": "廃棄記録（保存期間経過による削除、カメラ・日別）",
        "disp_cols": ("番号", "削除日時", "拠点", "カメラ", "映像の日付", "対象範囲",
                      "件数", "容量", "理由"),
        "holds": "保全（リーガルホールド）の設定・解除",
        "hold_cols": ("番号", "日時", "区分", "実施者", "インシデント", "カメラ", "対象範囲",
                      "備考"),
        "place": "設定", "release": "解除",
        "signature": "上記の記録を確認しました。",
        "sign_fields": ("確認日", "確認者（所属・職名）", "氏名", "印"),
        "page": "{n} / {total} ページ",
        "act": {"live": "ライブ", "playback": "録画再生", "snapshot": "静止画",
                "export": "書き出し"},
        "what": {"listing": "録画一覧", "clip": "動画", "playlist": "再生リスト",
                 "segment": "HLS断片", "stream": "配信", "image": "画像", "bundle": "証拠一式"},
        "decision": {"allow": "許可", "deny": "拒否", "fail": "失敗"},
        "role": {"crisis-management": "危機管理", "department-head": "部長",
                 "division-manager": "統括管理者", "ops": "情報システム担当",
                 "auditor": "監査"},
    },
    "en": {
        "title": "Viewing register", "month": "Month", "tz": "Times", "generated": "Generated",
        "site_all": "all sites", "site": "Site", "chain": "Audit trail check",
        "chain_ok": "intact ({n} entries verified)",
        "chain_bad": "WARNING: the audit chain is broken ({problem}). This register was "
                     "produced from records that may have been altered.",
        "anchor": " (anchor: matches up to entry {seq})",
        "accesses": "Viewing, playback, snapshots, live sessions and exports",
        "unknown_site": "Unknown site (unknown camera or anonymous)",
        "no_rows": "none",
        "cols": ("No.", "Date/time", "Person", "Role", "Action", "Camera", "Room",
                 "Footage viewed", "Purpose (reason / incident)", "Outcome"),
        "disposals": "Disposal log (deleted by retention, per camera and day)",
        "disp_cols": ("No.", "Deleted at", "Site", "Camera", "Footage day", "Range",
                      "Segments", "Size", "Why"),
        "holds": "Holds placed and released",
        "hold_cols": ("No.", "Date/time", "Change", "By", "Incident", "Cameras", "Range",
                      "Note"),
        "place": "placed", "release": "released",
        "signature": "I have reviewed the records above.",
        "sign_fields": ("Date", "Reviewer (division, title)", "Name", "Signature"),
        "page": "page {n} of {total}",
        "act": {}, "decision": {}, "role": {},
        "what": {"segment": "HLS segment", "bundle": "evidence bundle"},
    },
}


class FontMissing(RuntimeError):
    """No Japanese TrueType font to embed."""


def font_path() -> Path:
    """The TrueType font to embed: $CAMERAHUB_REGISTER_FONT or an IPA Gothic from Debian."""
    given = os.environ.get(FONT_ENV)
    candidates = (given,) if given else FONT_CANDIDATES
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise FontMissing(f"no Japanese TrueType font found ({', '.join(candidates)}); install "
                      f"the Debian package fonts-ipaexfont-gothic or set {FONT_ENV}")


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


class _Grid:
    """Tables drawn with fpdf's primitives (rectangles and text at a point).

    fpdf2's own table lays out every cell twice through its general line breaker and took
    about 0.75 ms a cell: 94 s for a month of 2,000 entries. Here each cell is wrapped once
    with cached glyph widths (breaking anywhere for Japanese, at a space when a line of
    Latin text has one), rows never split across pages, and the heading row repeats on
    every page. A cell longer than MAX_LINES lines ends with an ellipsis."""

    LINE_H = 3.6  # mm, for 7 pt
    PAD = 0.9  # mm inside each cell
    MAX_LINES = 30
    HEAD_FILL = (225, 225, 225)

    def __init__(self, pdf) -> None:
        self.pdf = pdf
        self._widths: dict[str, float] = {}

    def _w(self, ch: str) -> float:
        width = self._widths.get(ch)
        if width is None:
            width = self._widths[ch] = self.pdf.get_string_width(ch)
        return width

    def wrap(self, text: str, width: float) -> list[str]:
        """TEXT as lines no wider than WIDTH mm."""
        room = width - 2 * self.PAD
        lines: list[str] = []
        for para in text.split("\n"):
            line, used = [], 0.0
            for ch in para:
                w = self._w(ch)
                if line and used + w > room:
                    cut = len(line)
                    if ch != " " and " " in line and ord(ch) < 0x3000:
                        cut = max(i for i, c in enumerate(line) if c == " ") + 1
                    lines.append("".join(line[:cut]).rstrip())
                    line = line[cut:]
                    used = sum(self._w(c) for c in line)
                    if ch == " " and not line:
                        continue
                line.append(ch)
                used += w
            lines.append("".join(line))
        if len(lines) > self.MAX_LINES:
            lines = lines[:self.MAX_LINES]
            lines[-1] = lines[-1][:-1] + "…"
        return lines

    def _row(self, cells: list[list[str]], widths: tuple[int, ...], fill: bool) -> None:
        pdf = self.pdf
        height = max(len(c) for c in cells) * self.LINE_H + 2 * self.PAD
        x, y = pdf.l_margin, pdf.get_y()
        for lines, width in zip(cells, widths, strict=True):
            pdf.rect(x, y, width, height, style="DF" if fill else "D")
            for i, line in enumerate(lines):
                if line:
                    pdf.text(x + self.PAD, y + self.PAD + (i + 0.78) * self.LINE_H, line)
            x += width
        pdf.set_y(y + height)

    def draw(self, cols: tuple[str, ...], widths: tuple[int, ...], rows: list[list]) -> None:
        pdf = self.pdf
        pdf.set_fill_color(*self.HEAD_FILL)
        head = [self.wrap(c, w) for c, w in zip(cols, widths, strict=True)]
        head_h = max(len(c) for c in head) * self.LINE_H + 2 * self.PAD
        bottom = pdf.h - pdf.b_margin
        if pdf.get_y() + head_h + self.LINE_H + 2 * self.PAD > bottom:
            pdf.add_page()
        self._row(head, widths, fill=True)
        for values in rows:
            cells = [self.wrap(str(v), w) for v, w in zip(values, widths, strict=True)]
            height = max(len(c) for c in cells) * self.LINE_H + 2 * self.PAD
            if pdf.get_y() + height > bottom:
                pdf.add_page()
                pdf.set_font("jp", size=7)
                self._row(head, widths, fill=True)
            self._row(cells, widths, fill=False)


def render(reg: Register, lang: str = "ja") -> bytes:
    """The register as PDF bytes: one table per site, then disposals, holds, signature."""
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    L = LABELS["en" if lang == "en" else "ja"]
    font = font_path()

    class _Doc(FPDF):
        def footer(self) -> None:
            self.set_y(-10)
            self.set_font("jp", size=7)
            self.cell(0, 5, f"{L['title']} {reg.month} — "
                      + L["page"].format(n=self.page_no(), total="{nb}"), align="C")

    pdf = _Doc(orientation="L", unit="mm", format="A4")
    pdf.set_title(f"{L['title']} {reg.month}")
    pdf.set_creator("camerahub")
    pdf.alias_nb_pages()
    pdf.set_auto_page_break(True, margin=14)
    pdf.add_font("jp", "", str(font))
    pdf.add_page()
    pdf.set_font("jp", size=16)
    pdf.cell(0, 9, L["title"], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("jp", size=9)
    site = reg.site_filter or L["site_all"]
    pdf.cell(0, 5, f"{L['month']}: {reg.month}    {L['site']}: {site}    "
             f"{L['tz']}: {reg.timezone}    {L['generated']}: {reg.generated_at}",
             new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if reg.chain_ok:
        verdict = L["chain_ok"].format(n=reg.chain_entries)
        if reg.anchor_seq is not None:
            verdict += L["anchor"].format(seq=reg.anchor_seq)
        pdf.cell(0, 5, f"{L['chain']}: {verdict}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    else:
        pdf.set_text_color(180, 0, 0)
        pdf.set_font("jp", size=11)
        pdf.multi_cell(0, 6, f"{L['chain']}: "
                       + L["chain_bad"].format(problem=reg.chain_problem),
                       new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_text_color(0, 0, 0)
    pdf.ln(2)

    def heading(text: str) -> None:
        pdf.set_font("jp", size=11)
        pdf.cell(0, 7, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font("jp", size=7)

    grid = _Grid(pdf)

    def table(cols: tuple[str, ...], widths: tuple[int, ...], rows: list[list[str]]) -> None:
        if not rows:
            pdf.cell(0, 5, L["no_rows"], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.ln(2)
            return
        grid.draw(cols, widths, rows)
        pdf.ln(3)

    act, dec, role = L["act"], L["decision"], L["role"]
    heading(L["accesses"])
    if not reg.sites:
        pdf.cell(0, 5, L["no_rows"], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    for section in reg.sites:
        name = (f"{L['site']}: {section.site} ({section.site_id})" if section.site_id
                else L["unknown_site"])
        pdf.set_font("jp", size=10)
        pdf.cell(0, 6, name, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font("jp", size=7)
        rows = []
        for a in section.accesses:
            person = f"{a.person_name}\n{a.person}" if a.person_name else a.person
            decision, _, status = a.outcome.partition(" ")
            outcome = f"{dec.get(decision, decision)} {status}".strip()
            if a.count > 1:
                outcome += f" ×{a.count}"
            rng = f"{a.start}\n– {a.end}" if a.end and a.end != a.start else a.start
            what = L["what"].get(a.what, a.what)
            action = f"{act.get(a.action, a.action)}\n({what})" if what else \
                act.get(a.action, a.action)
            rows.append([a.seq, a.at, person, role.get(a.role, a.role), action, a.camera,
                         a.room, rng, a.purpose, outcome])
        table(L["cols"], (12, 28, 34, 20, 16, 36, 28, 32, 50, 20), rows)

    heading(L["disposals"])
    table(L["disp_cols"], (12, 28, 24, 36, 22, 60, 16, 20, 58),
          [[d.seq, d.at, d.site, d.camera, d.day, f"{d.start} – {d.end}", d.segments,
            _size(d.bytes), d.why] for d in reg.disposals])

    heading(L["holds"])
    table(L["hold_cols"], (12, 28, 14, 36, 20, 60, 60, 46),
          [[h.seq, h.at, L[h.op], h.person, h.incident, h.cameras,
            f"{h.start} – {h.end}" if h.start else "", h.note] for h in reg.holds])

    if pdf.will_page_break(40):
        pdf.add_page()
    pdf.ln(4)
    pdf.set_font("jp", size=10)
    pdf.cell(0, 7, L["signature"], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(6)
    for label in L["sign_fields"]:
        pdf.cell(60, 8, f"{label}:", new_x=XPos.RIGHT, new_y=YPos.TOP)
    pdf.ln(8)
    y = pdf.get_y()
    for i in range(len(L["sign_fields"])):
        x = pdf.l_margin + 60 * i
        pdf.line(x, y + 2, x + 55, y + 2)
    return bytes(pdf.output())
