"""QR codes of personal links: the very symbol segno makes, thousands of times a minute.

``segno.make_qr`` chooses the data mask the standard's way (ISO/IEC 18004:2015, 7.8.3): it
applies each of the eight masks and scores the result, in pure Python, module by module, which
is three quarters of its time — 10,000 slips took minutes. Here segno encodes once with mask 0
(its only masking pass), the data modules are recovered by undoing that mask, and the eight
masks are applied and scored on whole rows at once (integers, byte strings and regular
expressions), with segno's own scoring rules, ties going to the lower mask as in segno. The
chosen mask is applied and segno writes the format and version information, so the matrix is
segno's exactly; ``tests/test_slips.py`` compares the two on links of every length a token
makes and more.

The PNG holds the pixels segno writes (1-bit greyscale, the same scanlines and filters), a
whole row of modules at a time, compressed at zlib's default level rather than segno's 9,
which took a quarter of the time for a file 8 % smaller.
"""

from __future__ import annotations

import logging
import re
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any, Final

import segno
from segno import encoder as segno_encoder

# segno's encoder has no type hints: its steps are called through Any.
encoder: Any = segno_encoder
log = logging.getLogger(__name__)

# Level M; make_qr never picks a Micro QR, which many phone cameras cannot read, and segno may
# still raise the error correction above M when that costs no extra modules.
ERROR: Final = "m"
SCALE: Final = 10  # pixels per module
# Two modules of quiet zone: the slip's cell padding and the blank column beside it add the rest.
BORDER: Final = 2
# zlib's default: a QR code compresses about as well as at level 9, in a sixth of the time.
COMPRESSION: Final = 6

# What segno counts (encoder.mask_scores): runs of five or more alike, 2×2 blocks, the
# finder-like 1:1:3:1:1 pattern, and the share of dark modules.
_FINDER_LIKE = "1011101"
_FROM_DIGITS = bytes.maketrans(b"01", b"\x00\x01")
_TO_PIXELS = bytes.maketrans(b"\x00\x01", b"ld")
_DARK_RUN = re.compile("d+")
# The personal pages' QR kept drawn (about 2 KB each: 2 MB at most).
PAGE_QRS_KEPT: Final = 1024
_DARK, _LIGHT = "0" * SCALE, "1" * SCALE
_MASKS: Final[tuple[Callable[[int, int], bool], ...]] = (
    lambda i, j: (i + j) % 2 == 0,
    lambda i, j: i % 2 == 0,
    lambda i, j: j % 3 == 0,
    lambda i, j: (i + j) % 3 == 0,
    lambda i, j: (i // 2 + j // 3) % 2 == 0,
    lambda i, j: (i * j) % 2 + (i * j) % 3 == 0,
    lambda i, j: ((i * j) % 2 + (i * j) % 3) % 2 == 0,
    lambda i, j: ((i + j) % 2 + (i * j) % 3) % 2 == 0,
)


@dataclass(frozen=True)
class _Layout:
    """A symbol's modules as integers a row (or a column) each, the first module the highest
    bit: which are data, the others as segno holds them while it scores the masks (function
    patterns, and zeros where the format and version information will go), and each mask's dark
    modules among the data, by rows and by columns."""

    size: int
    data: tuple[int, ...]
    fixed: tuple[int, ...]
    mask_rows: tuple[tuple[int, ...], ...]
    mask_columns: tuple[tuple[int, ...], ...]


@cache
def _layout(size: int) -> _Layout:
    template = encoder.make_matrix(size, size)
    encoder.add_finder_patterns(template, size, size)
    encoder.add_alignment_patterns(template, size, size)
    data = [[int(cell == 2) for cell in row] for row in template]
    masks = [
        [[int(data[i][j] and mask(i, j)) for j in range(size)] for i in range(size)]
        for mask in _MASKS
    ]
    return _Layout(
        size=size,
        data=tuple(_bits(row) for row in data),
        fixed=tuple(_bits([cell if cell != 2 else 0 for cell in row]) for row in template),
        mask_rows=tuple(tuple(_bits(row) for row in mask) for mask in masks),
        mask_columns=tuple(
            tuple(_bits(column) for column in zip(*mask, strict=True)) for mask in masks
        ),
    )


def _bits(modules: Sequence[int]) -> int:
    """Modules (0/1) as an integer, the first the highest bit."""
    return int("".join(map(str, modules)), 2)


def qr_matrix(link: str) -> tuple[bytearray, ...]:
    """The modules (1 dark) of the QR code segno makes for ``link`` (``make_qr``, level M).

    The first symbol of each size is also made by segno itself and compared: should a later
    segno score or place differently, its own (slower) way is used from then on.
    """
    code = encoder.encode(link, error=ERROR, mask=0, micro=False)
    size = len(code.matrix)
    if size not in _checked:
        reference = tuple(bytearray(row) for row in segno.make_qr(link, error=ERROR).matrix)
        _checked[size] = _fast_matrix(code) == reference
        if not _checked[size]:
            log.warning(
                "segno %s chooses QR masks differently: using its own way", segno.__version__
            )
        return reference
    if not _checked[size]:
        return tuple(bytearray(row) for row in segno.make_qr(link, error=ERROR).matrix)
    return _fast_matrix(code)


# Per symbol size: whether the fast way gave segno's own symbol (checked once a process).
_checked: dict[int, bool] = {}


def _fast_matrix(code: Any) -> tuple[bytearray, ...]:
    """The symbol of an ``encoder.encode(..., mask=0)`` result, masked as segno would."""
    size = len(code.matrix)
    layout = _layout(size)
    # The symbol as it was before segno masked its data with mask 0.
    rows = [
        layout.fixed[i] | ((_bits(row) ^ layout.mask_rows[0][i]) & layout.data[i])
        for i, row in enumerate(code.matrix)
    ]
    lines = [format(row, f"0{size}b") for row in rows]
    columns = [int("".join(column), 2) for column in zip(*lines, strict=True)]
    best, best_score = 0, -1
    for number in range(len(_MASKS)):
        mask_rows, mask_columns = layout.mask_rows[number], layout.mask_columns[number]
        score = _score(
            [row ^ mask for row, mask in zip(rows, mask_rows, strict=True)],
            [column ^ mask for column, mask in zip(columns, mask_columns, strict=True)],
            size,
        )
        if best_score < 0 or score < best_score:  # ties: the lower mask, as in segno
            best, best_score = number, score
    masked = (row ^ mask for row, mask in zip(rows, layout.mask_rows[best], strict=True))
    matrix = tuple(
        bytearray(format(row, f"0{size}b").encode().translate(_FROM_DIGITS)) for row in masked
    )
    encoder.add_format_info(matrix, code.version, code.error, best)
    encoder.add_version_info(matrix, code.version)
    return matrix


def _score(rows: Sequence[int], columns: Sequence[int], size: int) -> int:
    """segno's penalty for a masked symbol (``encoder.mask_scores``, summed)."""
    full = (1 << size) - 1
    # N1, a run of k ≥ 5 alike scores k - 2. A module equal to the next marks a bit of `alike`;
    # a run of k alike is k - 1 such bits in a row, where `four` (four in a row start here)
    # has k - 4 bits: the run scores those, plus 2 for each run of them.
    score = 0
    for value in (*rows, *columns):
        alike = ~(value ^ (value >> 1)) & (full >> 1)
        four = alike & (alike >> 1) & (alike >> 2) & (alike >> 3)
        if four:
            score += four.bit_count() + 2 * (four & ~(four >> 1)).bit_count()
    lines = [format(value, f"0{size}b") for value in (*rows, *columns)]
    score += _finder_like(lines)
    # N2, 2×2 blocks alike: a module equal to its left neighbour in two rows agreeing there.
    pairs = [~(row ^ (row >> 1)) & (full >> 1) for row in rows]
    for i in range(1, size):
        same = ~(rows[i] ^ rows[i - 1]) & full
        score += 3 * (pairs[i] & pairs[i - 1] & same & (same >> 1)).bit_count()
    # N4, the share of dark modules.
    dark = sum(row.bit_count() for row in rows)
    percent = float(dark) / (size**2)
    return score + 10 * int(abs(percent * 100 - 50) / 5)


def _finder_like(lines: Sequence[str]) -> int:
    """segno's N3 over rows and columns: its search and its edge cases, where the four modules
    looked at before or after a match stop at the line's end. Each line is padded with four
    light modules on both sides, which is the same test, and searched in one string: the
    pattern cannot span the padding."""
    text = "0000" + "00000000".join(lines) + "0000"
    count = 0
    index = text.find(_FINDER_LIKE)
    while index != -1:
        if "1" not in text[index - 4 : index] or "1" not in text[index + 7 : index + 11]:
            count += 40
            index = text.find(_FINDER_LIKE, index + 7)
        else:
            index = text.find(_FINDER_LIKE, index + 4)
    return count


@cache
def qr_svg(link: str) -> str:
    """The QR code of ``link`` as inline SVG markup (dark on a white square with a quiet zone
    of four modules), for a web page, hidden from screen readers (the page's caption names it);
    a page shows few distinct links, so each is made once."""
    code = segno.make_qr(link, error=ERROR)
    svg = str(code.svg_inline(scale=4, border=4, light="#fff", svgclass="qr"))
    return svg.replace("<svg ", '<svg aria-hidden="true" ', 1)  # the caption says what it is


def qr_png(link: str) -> bytes:
    """The QR code of ``link`` as the PNG segno writes (``save(kind="png", scale=10,
    border=2)``): 1-bit greyscale, dark modules black."""
    matrix = qr_matrix(link)
    width = (len(matrix) + 2 * BORDER) * SCALE
    stride = (width + 7) // 8
    light_line = b"\x00" + _packed("1" * width)
    # segno writes each module row once and repeats it with the PNG filter "Up" (2): all zeros.
    repeat = (b"\x02" + bytes(stride)) * (SCALE - 1)
    quiet = "1" * (BORDER * SCALE)
    idat = bytearray(light_line * (BORDER * SCALE))
    for row in matrix:
        # A dark module is black, 0 in the greyscale; each module SCALE pixels wide.
        pixels = row.translate(_TO_PIXELS).decode().replace("d", _DARK).replace("l", _LIGHT)
        idat += b"\x00" + _packed(quiet + pixels + quiet)
        idat += repeat
    idat += light_line * (BORDER * SCALE)
    header = struct.pack(">2I5B", width, width, 1, 0, 0, 0, 0)
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(bytes(idat), COMPRESSION)),
            _chunk(b"IEND", b""),
        )
    )


def _packed(bits: str) -> bytes:
    """Pixels as "0"/"1", one bit each, the first the highest, the last byte padded with 0."""
    padded = bits + "0" * (-len(bits) % 8)
    return int(padded, 2).to_bytes(len(padded) // 8, "big")


def _chunk(name: bytes, data: bytes) -> bytes:
    body = name + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


@lru_cache(maxsize=PAGE_QRS_KEPT)
def qr_page_svg(link: str) -> str:
    """The QR code of ``link`` as inline SVG markup: the very symbol of the slip's picture
    (:func:`qr_matrix`, segno's own), dark on a white square with a quiet zone of four modules,
    hidden from screen readers (the page's caption names it).

    From the fast matrix: about 3 ms, where segno's own SVG takes three times as long. One path
    of horizontal strokes, each run of dark modules one, about 2 KB a personal link. Kept for
    the last :data:`PAGE_QRS_KEPT` links: on the meeting's morning the same people open their
    pages again and again, and a page otherwise costs the QR's milliseconds each time.
    """
    return qr_secret_svg(link)


def qr_secret_svg(link: str) -> str:
    """:func:`qr_page_svg`'s markup, made afresh and kept nowhere: for a link that is a secret
    (a dashboard sign-in link, shown once), which no cache should hold after its page."""
    matrix = qr_matrix(link)
    quiet = 4
    width = len(matrix) + 2 * quiet
    strokes: list[str] = []
    for y, row in enumerate(matrix):
        line = row.translate(_TO_PIXELS).decode()
        end = None  # where the row's last stroke ended: the next moves on from there
        for run in _DARK_RUN.finditer(line):
            start, length = run.start(), run.end() - run.start()
            if end is None:
                strokes.append(f"M{start + quiet} {y + quiet}.5h{length}")
            else:
                strokes.append(f"m{start - end} 0h{length}")
            end = run.end()
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {width}" class="qr" '
        f'aria-hidden="true" shape-rendering="crispEdges">'
        f'<path fill="#fff" d="M0 0h{width}v{width}H0z"/>'
        f'<path stroke="#000" d="{"".join(strokes)}"/></svg>'
    )
