"""Pictures in the web chat: which files count as one, and how large they may be.

The type is read from the file's first bytes (its magic number), never from its name or the
browser's claim: a visitor's ``evil.html`` renamed ``cat.jpg`` is refused, and whatever is
served back carries the type found here.
"""

from __future__ import annotations

IMAGE_LIMIT = 5 * 1024 * 1024  # bytes of one picture (a phone photo fits; Telegram's is 10 MB)
CAPTION_LIMIT = 1024  # characters, as Telegram's captions
#: The file id of a web visitor's photo update: "web-image:<picture id>" (no Telegram file).
WEB_FILE_PREFIX = "web-image:"

_MAGIC = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"))


def image_type(data: bytes) -> str | None:
    """``image/jpeg``, ``image/png`` or ``image/webp`` by the magic bytes; None otherwise."""
    for magic, content_type in _MAGIC:
        if data.startswith(magic):
            return content_type
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None

