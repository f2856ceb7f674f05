"""RSA signatures (PKCS #1 v1.5 with SHA-256, "SHA256withRSA"/"RSA2") in the standard library.

What payment gateways use to sign their notifications and to check a merchant's requests. Keys are
read from PEM (or bare base64 DER, as Alipay hands out its public key): a public key
(SubjectPublicKeyInfo or PKCS #1), an X.509 certificate's public key, or a private key (PKCS #8 or
PKCS #1). Only the arithmetic of signing and checking is here; no encryption, no key generation.
"""

import base64
import hashlib
import hmac
import re

# DER DigestInfo prefix of a SHA-256 digest (RFC 8017 §9.2, note 1)
_SHA256_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")


class KeyFormatError(ValueError):
    """A key or certificate that cannot be read."""


def _der(data):
    """Bytes of a PEM block (any label) or of bare base64 DER, or DER bytes as they are."""
    if isinstance(data, bytes) and data[:1] == b"\x30":
        return data
    text = data.decode("ascii") if isinstance(data, bytes) else data
    text = re.sub(r"-----(BEGIN|END) [A-Z0-9 ]+-----", "", text)
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except ValueError as error:
        raise KeyFormatError("not a PEM or base64 DER key") from error


def _read(der, at):
    """(tag, start of content, end of content) of the DER element at ``at``."""
    if at + 2 > len(der):
        raise KeyFormatError("truncated DER")
    tag, length = der[at], der[at + 1]
    at += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or at + count > len(der):
            raise KeyFormatError("bad DER length")
        length = int.from_bytes(der[at : at + count], "big")
        at += count
    if at + length > len(der):
        raise KeyFormatError("truncated DER")
    return tag, at, at + length


def _children(der, start, end):
    items, at = [], start
    while at < end:
        tag, content, stop = _read(der, at)
        items.append((tag, content, stop))
        at = stop
    return items


def _integers(der, start, end):
    return [int.from_bytes(der[c:s], "big") for tag, c, s in _children(der, start, end) if tag == 0x02]


def _spki(der, start, end):
    """(n, e) of a SubjectPublicKeyInfo's content."""
    parts = _children(der, start, end)
    if len(parts) != 2 or parts[1][0] != 0x03:
        raise KeyFormatError("not a public key")
    _tag, content, stop = parts[1]
    inner = der[content + 1 : stop]  # a BIT STRING's first byte counts unused bits
    tag, c, s = _read(inner, 0)
    n, e = _integers(inner, c, s)[:2]
    return n, e


def public_key(data):
    """(n, e) from a public key or a certificate (PEM or base64 DER)."""
    der = _der(data)
    tag, start, end = _read(der, 0)
    parts = _children(der, start, end)
    if parts and parts[0][0] == 0x02:  # PKCS #1 RSAPublicKey: SEQUENCE { n, e }
        n, e = _integers(der, start, end)[:2]
        return n, e
    if parts and parts[0][0] == 0x30 and len(parts) == 2:  # SubjectPublicKeyInfo
        return _spki(der, start, end)
    if len(parts) == 3:  # Certificate: { tbsCertificate, algorithm, signature }
        _t, c, s = parts[0]
        fields = _children(der, c, s)
        if fields and fields[0][0] == 0xA0:  # explicit version
            fields = fields[1:]
        # serial, signature algorithm, issuer, validity, subject, subjectPublicKeyInfo
        if len(fields) < 6:
            raise KeyFormatError("not a certificate")
        _t, c, s = fields[5]
        return _spki(der, c, s)
    raise KeyFormatError("not an RSA public key")


def private_key(data):
    """(n, d) from a PKCS #8 or PKCS #1 RSA private key (PEM or base64 DER)."""
    der = _der(data)
    tag, start, end = _read(der, 0)
    parts = _children(der, start, end)
    if len(parts) >= 3 and parts[1][0] == 0x30 and parts[2][0] == 0x04:  # PKCS #8
        _t, c, s = parts[2]
        der = der[c:s]
        tag, start, end = _read(der, 0)
    numbers = _integers(der, start, end)
    if len(numbers) < 4:
        raise KeyFormatError("not an RSA private key")
    _version, n, _e, d = numbers[:4]
    return n, d


def _encoded(message, size):
    digest = _SHA256_PREFIX + hashlib.sha256(message).digest()
    if size < len(digest) + 11:
        raise KeyFormatError("key too short")
    return b"\x00\x01" + b"\xff" * (size - len(digest) - 3) + b"\x00" + digest


def sign(message, key):
    """The SHA256withRSA signature of ``message`` (bytes) with a private key (n, d)."""
    n, d = key
    size = (n.bit_length() + 7) // 8
    value = pow(int.from_bytes(_encoded(message, size), "big"), d, n)
    return value.to_bytes(size, "big")


def verify(message, signature, key):
    """Whether ``signature`` is a SHA256withRSA signature of ``message`` by the public key (n, e)."""
    n, e = key
    size = (n.bit_length() + 7) // 8
    if len(signature) != size:
        return False
    value = int.from_bytes(signature, "big")
    if value >= n:
        return False
    recovered = pow(value, e, n).to_bytes(size, "big")
    return hmac.compare_digest(recovered, _encoded(message, size))
