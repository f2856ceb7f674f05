"""AES-256-GCM decryption (and encryption, for tests) in the standard library.

WeChat Pay encrypts the resource of its notifications with AEAD_AES_256_GCM under the merchant's API
v3 key. The `cryptography` package does this in C and is used when it is installed; this module is
the fallback so that a notification can still be read without it. It is only ever reached after the
notification's RSA signature has been checked, and the tag is compared in constant time before any
plaintext is returned. Checked against FIPS-197 and the GCM specification's test vectors.
"""

import hmac


def _xtime(a):
    return ((a << 1) ^ 0x1B) & 0xFF if a & 0x80 else a << 1


def _rotl8(x, shift):
    return ((x << shift) | (x >> (8 - shift))) & 0xFF


def _make_sbox():
    sbox = [0] * 256
    p = q = 1
    while True:
        p = p ^ ((p << 1) & 0xFF) ^ (0x1B if p & 0x80 else 0)  # p × 3
        q ^= q << 1
        q ^= q << 2
        q ^= q << 4
        q &= 0xFF
        if q & 0x80:
            q ^= 0x09  # q ÷ 3
        sbox[p] = q ^ _rotl8(q, 1) ^ _rotl8(q, 2) ^ _rotl8(q, 3) ^ _rotl8(q, 4) ^ 0x63
        if p == 1:
            break
    sbox[0] = 0x63
    return sbox


_SBOX = _make_sbox()
_RCON = (0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40)


def _round_keys(key):
    if len(key) != 32:
        raise ValueError("AES-256 needs a 32-byte key")
    words = [list(key[i : i + 4]) for i in range(0, 32, 4)]
    for i in range(8, 60):
        temp = list(words[i - 1])
        if i % 8 == 0:
            temp = [_SBOX[b] for b in temp[1:] + temp[:1]]
            temp[0] ^= _RCON[i // 8 - 1]
        elif i % 8 == 4:
            temp = [_SBOX[b] for b in temp]
        words.append([a ^ b for a, b in zip(words[i - 8], temp)])
    return [sum(words[4 * r : 4 * r + 4], []) for r in range(15)]


def _encrypt_block(keys, block):
    s = [a ^ b for a, b in zip(block, keys[0])]  # s[4c + r]: row r, column c
    for round_number in range(1, 15):
        s = [_SBOX[b] for b in s]
        s = [s[4 * ((c + r) % 4) + r] for c in range(4) for r in range(4)]
        if round_number != 14:
            mixed = []
            for c in range(4):
                a0, a1, a2, a3 = s[4 * c : 4 * c + 4]
                t = a0 ^ a1 ^ a2 ^ a3
                mixed += [
                    a0 ^ t ^ _xtime(a0 ^ a1),
                    a1 ^ t ^ _xtime(a1 ^ a2),
                    a2 ^ t ^ _xtime(a2 ^ a3),
                    a3 ^ t ^ _xtime(a3 ^ a0),
                ]
            s = mixed
        s = [a ^ b for a, b in zip(s, keys[round_number])]
    return bytes(s)


def encrypt_block(key, block):
    """One AES-256 block (for the known-answer test)."""
    return _encrypt_block(_round_keys(key), block)


_R = 0xE1 << 120


def _gmul(x, y):
    z, v = 0, y
    for i in range(127, -1, -1):
        if (x >> i) & 1:
            z ^= v
        v = (v >> 1) ^ _R if v & 1 else v >> 1
    return z


def _ghash(h, data):
    x = 0
    for i in range(0, len(data), 16):
        x = _gmul(x ^ int.from_bytes(data[i : i + 16].ljust(16, b"\0"), "big"), h)
    return x


def _padded(data):
    return data + b"\0" * (-len(data) % 16)


def _setup(key, nonce):
    keys = _round_keys(key)
    h = int.from_bytes(_encrypt_block(keys, bytes(16)), "big")
    if len(nonce) == 12:
        j0 = nonce + b"\0\0\0\1"
    else:
        j0 = _ghash(h, _padded(nonce) + (len(nonce) * 8).to_bytes(16, "big")).to_bytes(16, "big")
    return keys, h, j0


def _ctr(keys, j0, data):
    prefix, counter = j0[:12], int.from_bytes(j0[12:], "big")
    out = bytearray()
    for i in range(0, len(data), 16):
        counter = (counter + 1) & 0xFFFFFFFF
        stream = _encrypt_block(keys, prefix + counter.to_bytes(4, "big"))
        out += bytes(a ^ b for a, b in zip(data[i : i + 16], stream))
    return bytes(out)


def _tag(keys, h, j0, associated, ciphertext):
    lengths = (len(associated) * 8).to_bytes(8, "big") + (len(ciphertext) * 8).to_bytes(8, "big")
    s = _ghash(h, _padded(associated) + _padded(ciphertext) + lengths)
    return bytes(a ^ b for a, b in zip(s.to_bytes(16, "big"), _encrypt_block(keys, j0)))


def encrypt(key, nonce, plaintext, associated=b""):
    """Ciphertext followed by the 16-byte tag (as WeChat Pay and `cryptography` lay them out)."""
    keys, h, j0 = _setup(key, nonce)
    ciphertext = _ctr(keys, j0, plaintext)
    return ciphertext + _tag(keys, h, j0, associated, ciphertext)


def decrypt(key, nonce, data, associated=b""):
    """The plaintext of ciphertext-and-tag ``data``; ValueError when the tag does not match."""
    if len(data) < 16:
        raise ValueError("too short")
    keys, h, j0 = _setup(key, nonce)
    ciphertext, tag = data[:-16], data[-16:]
    if not hmac.compare_digest(_tag(keys, h, j0, associated, ciphertext), tag):
        raise ValueError("authentication tag does not match")
    return _ctr(keys, j0, ciphertext)
