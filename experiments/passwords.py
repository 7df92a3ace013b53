"""Password hashes with the standard library only (no web library in the core).

New hashes are scrypt in the `scrypt:N:r:p$salt$hex` form that werkzeug writes, so the hashes already in a
registry (werkzeug's scrypt, or its older `pbkdf2:sha256:iterations$salt$hex`) still verify, and a hash made
here verifies with werkzeug too. The parameters in a stored hash come from the registry, which is trusted.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import string

SALT_CHARS = string.ascii_letters + string.digits
SALT_LENGTH = 16
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
PBKDF2_ITERATIONS = 1_000_000  # werkzeug's default when a pbkdf2 hash names no iteration count


def _digest(method: str, salt: str, password: str) -> str | None:
    """The hex digest of `password` under a stored method and salt, None for a method this does not know."""
    name, *args = method.split(":")
    try:
        if name == "scrypt":
            n, r, p = map(int, args) if args else (SCRYPT_N, SCRYPT_R, SCRYPT_P)
            return hashlib.scrypt(password.encode(), salt=salt.encode(), n=n, r=r, p=p,
                                  maxmem=132 * n * r * p).hex()
        if name == "pbkdf2" and len(args) <= 2:
            hash_name = args[0] if args else "sha256"
            iterations = int(args[1]) if len(args) == 2 else PBKDF2_ITERATIONS
            return hashlib.pbkdf2_hmac(hash_name, password.encode(), salt.encode(), iterations).hex()
    except ValueError:  # malformed parameters or an unknown hash name
        return None
    return None


def hash_password(password: str) -> str:
    """A salted scrypt hash to store: `scrypt:32768:8:1$<16-character salt>$<hex digest>`."""
    salt = "".join(secrets.choice(SALT_CHARS) for _ in range(SALT_LENGTH))
    method = f"scrypt:{SCRYPT_N}:{SCRYPT_R}:{SCRYPT_P}"
    return f"{method}${salt}${_digest(method, salt, password)}"


def check_password(stored: str, password: str) -> bool:
    """True when `password` matches a stored hash (compared in constant time); False for anything malformed."""
    try:
        method, salt, expected = stored.split("$", 2)
    except ValueError:
        return False
    digest = _digest(method, salt, password)
    return digest is not None and hmac.compare_digest(digest, expected)
