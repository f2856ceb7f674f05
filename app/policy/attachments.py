"""Uploaded files: a size limit, a type whitelist read from the content (not the name), random
stored names outside the static folder, and downloads only of files a record the user may read
points to.
"""

import io
import os
import re
import secrets
import zipfile

from flask_babel import lazy_gettext as _

from app.core.errors import DomainError

SEPARATOR = "_sep_"  # FAB shows the part after it as the original name
# extension -> what staff are told it is: photos and documents (ticket files, notes)
DOCUMENTS = {
    "jpg": "JPG",
    "png": "PNG",
    "gif": "GIF",
    "webp": "WebP",
    "heic": "HEIC",
    "pdf": "PDF",
    "docx": "Word",
    "xlsx": "Excel",
    "mp4": "MP4",
}
# call recordings (communication records), played on the record's page
AUDIO = {"mp3": "MP3", "m4a": "M4A", "amr": "AMR", "wav": "WAV"}
ALLOWED = {**DOCUMENTS, **AUDIO}  # every kind a stored file may have
# photos (a resident's request, a technician's note): shown as pictures on the phone pages
IMAGES = {kind: DOCUMENTS[kind] for kind in ("jpg", "png", "gif", "webp", "heic")}
MIME_TYPES = {
    "jpg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "heic": "image/heic",
    "pdf": "application/pdf",
    "mp4": "video/mp4",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "mp3": "audio/mpeg",
    "m4a": "audio/mp4",
    "amr": "audio/amr",
    "wav": "audio/wav",
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
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head.startswith(b"#!AMR"):  # narrow- and wide-band (#!AMR-WB)
        return "amr"
    if head.startswith(b"ID3") or _mpeg_audio_frame(head):
        return "mp3"
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"mif1", b"msf1"):
            return "heic"
        if brand in (b"M4A ", b"M4B "):
            return "m4a"
        return "mp4"
    if head.startswith(b"PK\x03\x04"):
        return _office_kind(stream)
    return None


def _mpeg_audio_frame(head):
    """An MPEG audio frame header: 11 sync bits, a defined version and layer, a usable bit rate."""
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version, layer, bitrate = (head[1] >> 3) & 3, (head[1] >> 1) & 3, head[2] >> 4
    return version != 1 and layer != 0 and bitrate not in (0, 15)


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


def real_kind(filename, stream, accepted=DOCUMENTS):
    """sniff(), except that an MPEG-4 file named .m4a is audio where audio is accepted (recorders write
    audio-only files with the generic brand: the container is the same, the name says which)."""
    kind = sniff(stream)
    if kind == "mp4" and "m4a" in accepted and (filename or "").lower().endswith(".m4a"):
        return "m4a"
    return kind


def size_of(stream):
    stream.seek(0, 2)
    size = stream.tell()
    stream.seek(0)
    return size


def check_upload(filename, stream, max_bytes, accepted=DOCUMENTS):
    """The file's real extension, or a DomainError a user can act on (too big, not an accepted type).

    ``accepted`` is the field's whitelist (photos and documents; communication records add audio)."""
    if size_of(stream) > max_bytes:
        raise DomainError(_("The file is larger than %(mb)s MB.", mb=max_bytes // (1024 * 1024)))
    kind = real_kind(filename, stream, accepted)
    if kind not in accepted:
        raise DomainError(
            _("This file type is not accepted. Accepted: %(types)s.", types=", ".join(dict.fromkeys(accepted.values())))
        )
    return kind


def save_upload(upload, folder, max_bytes, accepted=DOCUMENTS):
    """Check an uploaded file (werkzeug FileStorage) and store it under a new random name in ``folder``;
    returns the stored name. Nothing is written when the file is refused."""
    kind = check_upload(upload.filename, upload.stream, max_bytes, accepted)
    name = stored_name(upload.filename, kind)
    os.makedirs(folder, exist_ok=True)
    upload.save(os.path.join(folder, name))
    return name


def remove_stored(folder, names):
    """Remove stored files of a change that was not saved (a refused record leaves no stray file)."""
    for name in names:
        if is_stored_name(name):
            try:
                os.remove(os.path.join(folder, name))
            except FileNotFoundError:
                pass


def is_audio(name):
    return (name or "").rsplit(".", 1)[-1].lower() in AUDIO


def is_image(name):
    return (name or "").rsplit(".", 1)[-1].lower() in IMAGES


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
