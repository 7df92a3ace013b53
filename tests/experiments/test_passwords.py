"""Password hashes from the standard library, interchangeable with werkzeug's (hashes already in registries)."""
from __future__ import annotations

import re

from werkzeug.security import check_password_hash, generate_password_hash

from experiments.passwords import check_password, hash_password
from experiments.users import add_user, authenticate


def test_a_new_hash_is_salted_scrypt_in_werkzeugs_form_and_werkzeug_verifies_it():
    stored = hash_password("correct horse")
    assert re.fullmatch(r"scrypt:32768:8:1\$[A-Za-z0-9]{16}\$[0-9a-f]{128}", stored)
    assert stored != hash_password("correct horse")  # a new salt each time
    assert check_password(stored, "correct horse") and not check_password(stored, "correct horsE")
    assert check_password_hash(stored, "correct horse")  # werkzeug reads it: a rollback loses no user


def test_hashes_werkzeug_made_still_verify():
    for method in ("scrypt", "pbkdf2:sha256:1000", "pbkdf2:sha256"):
        stored = generate_password_hash("s3cret-pass", method=method)
        assert check_password(stored, "s3cret-pass"), method
        assert not check_password(stored, "s3cret-pasS"), method


def test_malformed_stored_hashes_never_match():
    for stored in ("", "plain", "md5$salt$abc", "scrypt:x:8:1$salt$00", "pbkdf2:nohash:10$salt$00",
                   "pbkdf2:a:b:c$salt$00"):
        assert not check_password(stored, "anything"), stored


def test_a_user_added_before_the_change_still_logs_in(tmp_path):
    from experiments.db import open_registry

    database = open_registry(tmp_path / "r.db")
    add_user(database, "ana", "long enough", "growth")
    # A registry written by werkzeug's hashing (before this module existed) holds hashes of this form.
    database.execute("UPDATE users SET password_hash = ? WHERE name = 'ana'",
                     (generate_password_hash("older password", method="pbkdf2:sha256:1000"),))
    database.conn.commit()
    assert authenticate(database, "ana", "older password").name == "ana"
    assert authenticate(database, "ana", "long enough") is None
