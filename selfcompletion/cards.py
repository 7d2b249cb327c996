"""The QR code of an invitation card (segno: SVG, no image files, no external service)."""
from __future__ import annotations

import segno


def qr_svg(url: str) -> str:
    """An inline SVG of the URL's QR code, medium error correction (survives a crease)."""
    return segno.make(url, error="m").svg_inline(
        scale=5, border=4, title="QR code: the questionnaire link", omitsize=True)
