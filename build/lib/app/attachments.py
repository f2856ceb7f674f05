"""Uploaded files: a size limit, a type whitelist read from the content (not the name), random
stored names outside the static folder, and downloads only of files a record the user may read
points to.
"""
import io
import re
import secrets
import zipfile

from flask_babel import lazy_gettext as _

from app.errors import DomainError

SEPARATOR = "_sep_"  # FAB shows the part after it as the original name
# extension -> what staff are told it is
ALLOWED = {
    "jpg": "JPG", "png": "PNG", "gif": "GIF", "webp": "WebP", "heic": "HEIC", "pdf": "PDF",
    "docx": "Word", "xlsx": "Excel", "mp4": "MP4",
}
MIME_TYPES = {
    "jpg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp", "heic": "image/heic",
    "pdf": "application/pdf", "mp4": "video/mp4",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def sniff(stream):
    """The file's real type (a key of ALLOWED) from its first bytes, or None. Leaves the stream at 0."""
    stream.seek(0)
    head = stream.read(64)
    stream.seek(0)
    if head.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"mif1", b"msf1"):
            return "heic"
        return "mp4"
    if head.startswith(b"PK\x03\x04"):
        return _office_kind(stream)
    return None


def _office_kind(stream):
    try:
        data = stream.read()
        names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
    except (zipfile.BadZipFile, ValueError):
        return None
    finally:
        stream.seek(0)
    if "[Content_Types].xml" not in names:
        return None
    if any(n.startswith("word/") for n in names):
        return "docx"
    if any(n.startswith("xl/") for n in names):
        return "xlsx"
    return None


def size_of(stream):
    stream.seek(0, 2)
    size = stream.tell()
    stream.seek(0)
    return size


def check_upload(filename, stream, max_bytes):
    """The file's real extension, or a DomainError a user can act on (too big, not an accepted type)."""
    if size_of(stream) > max_bytes:
        raise DomainError(_("The file is larger than %(mb)s MB.", mb=max_bytes // (1024 * 1024)))
    kind = sniff(stream)
    if kind is None:
        raise DomainError(_("This file type is not accepted. Accepted: %(types)s.",
                            types=", ".join(dict.fromkeys(ALLOWED.values()))))
    return kind


def stored_name(filename, kind):
    """A random, unguessable name that keeps a readable original name (Chinese too) and the real extension."""
    base = re.sub(r"[^\w\-]+", "_", (filename or "").replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0])
    base = base.strip("_")[:60] or "file"
    return f"{secrets.token_hex(16)}{SEPARATOR}{base}.{kind}"


STORED_NAME = re.compile(r"[0-9a-f]{32}" + SEPARATOR + r"[\w\-]+\.[a-z0-9]+")


def is_stored_name(name):
    """Only names we generate are ever looked up on disk (no paths, no dots but the extension's)."""
    return bool(STORED_NAME.fullmatch(name or "")) and name.rsplit(".", 1)[-1] in ALLOWED


def original_name(stored):
    return stored.split(SEPARATOR, 1)[-1] if stored else ""
