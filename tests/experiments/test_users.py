"""Web UI users and API tokens: hashed passwords, roles, tokens stored as hashes, audited changes."""
from __future__ import annotations

import hashlib

import pytest

from experiments.db import open_registry
from experiments.users import (
    UserError,
    add_user,
    authenticate,
    create_token,
    list_tokens,
    list_users,
    revoke_token,
    set_password,
    user_for_token,
)


@pytest.fixture
def database(db_path):
    db = open_registry(db_path)
    yield db
    db.conn.close()


def test_passwords_are_stored_hashed_and_checked(database) -> None:
    add_user(database, "ana", "s3cret-enough", "growth", actor="admin")
    stored = database.execute("SELECT password_hash FROM users WHERE name = 'ana'").fetchone()[0]
    assert "s3cret-enough" not in stored and stored.startswith(("scrypt:", "pbkdf2:"))
    assert authenticate(database, "ana", "s3cret-enough").role == "growth"
    assert authenticate(database, "ana", "wrong-password") is None
    assert authenticate(database, "nobody", "s3cret-enough") is None
    set_password(database, "ana", "another-password", actor="admin")
    assert authenticate(database, "ana", "s3cret-enough") is None
    assert authenticate(database, "ana", "another-password") is not None
    assert [(u.name, u.role) for u in list_users(database)] == [("ana", "growth")]
    assert database.execute("SELECT actor, action, object_key FROM audit_log ORDER BY id").fetchall() == [
        ("admin", "add", "ana"), ("admin", "password", "ana")]


@pytest.mark.parametrize("name, password, role, message", [
    ("ana", "short", "growth", "the password of 'ana' must have at least 8 characters"),
    ("ana", "long enough", "boss", "unknown role 'boss'; roles: growth, finance, strategy, admin"),
    ("a b", "long enough", "growth", "user name 'a b' must be 1-64 letters, digits, '-', '_' or '.'"),
])
def test_bad_users_are_refused_with_the_reason(database, name, password, role, message) -> None:
    with pytest.raises(UserError) as error:
        add_user(database, name, password, role)
    assert str(error.value) == message
    assert list_users(database) == []


def test_a_name_is_taken_once(database) -> None:
    add_user(database, "ana", "long enough", "growth")
    with pytest.raises(UserError, match="user 'ana' already exists"):
        add_user(database, "ana", "long enough", "admin")


def test_tokens_are_shown_once_stored_hashed_and_revocable(database) -> None:
    add_user(database, "fin", "long enough", "finance")
    token = create_token(database, "fin", "nightly export", actor="fin")
    assert token.secret.startswith("wbk_") and len(token.secret) > 40
    stored = database.execute("SELECT token_hash FROM api_tokens").fetchone()[0]
    assert stored == hashlib.sha256(token.secret.encode()).hexdigest()
    assert user_for_token(database, token.secret).name == "fin"
    assert user_for_token(database, token.secret + "x") is None
    assert user_for_token(database, "") is None
    [listed] = list_tokens(database, "fin")
    assert listed.secret is None and "secret" not in listed.to_dict()
    revoke_token(database, token.id, actor="admin")
    assert user_for_token(database, token.secret) is None
    with pytest.raises(UserError, match="no active API token with id 1"):
        revoke_token(database, token.id)
    with pytest.raises(UserError, match="unknown user 'ghost'"):
        create_token(database, "ghost")
