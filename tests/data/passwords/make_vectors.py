#!/usr/bin/env python3
"""Known-answer vectors for ferry's password formats, made by independent
implementations: Python's hashlib, passlib 1.7.4, the bcrypt 5 package,
argon2-cffi 25 (the reference argon2 library's binding) and Django 5.1's own
hashers.

    python3 -m venv /tmp/kat && /tmp/kat/bin/pip install passlib==1.7.4 bcrypt==5.0.0 argon2-cffi==25.1.0 'django==5.1.*'
    /tmp/kat/bin/python tests/data/passwords/make_vectors.py > tests/data/passwords/vectors.json

Cost parameters are deliberately cheap (bcrypt cost 4, argon2 m=64 KiB t=1,
pbkdf2 1000 rounds) so the tests stay fast; the formats are what matters.
Each vector: the source columns (hash, salt, algorithm, salt_encoding), the
password it was made from, and whether ferry must carry it ("hash") or
report it as unsupported ("unsupported").
"""
import base64
import hashlib
import json
import os

import argon2
import bcrypt
import django
from django.conf import settings
from passlib import hash as ph

settings.configure()
django.setup()
from django.contrib.auth import hashers as dj  # noqa: E402


class DjangoPBKDF2(dj.PBKDF2PasswordHasher):
    iterations = 1000


class DjangoPBKDF2SHA1(dj.PBKDF2SHA1PasswordHasher):
    iterations = 1000


class DjangoArgon2(dj.Argon2PasswordHasher):
    time_cost = 1
    memory_cost = 64
    parallelism = 1


class DjangoBCrypt(dj.BCryptPasswordHasher):
    rounds = 4


class DjangoBCryptSHA256(dj.BCryptSHA256PasswordHasher):
    rounds = 4

PASSWORDS = ["correct horse battery staple", "pässwörd 🔑", "x", "Tr0ub4dor&3"]
vectors = []


def add(fmt, password, hash_, expect="hash", salt=None, algorithm=None, salt_encoding=None):
    vectors.append({k: v for k, v in {
        "format": fmt, "password": password, "hash": hash_, "salt": salt,
        "algorithm": algorithm, "salt_encoding": salt_encoding, "expect": expect,
    }.items() if v is not None})


for i, pw in enumerate(PASSWORDS):
    b = pw.encode()
    # bcrypt: the reference package. $2y$ (PHP's name) is the same algorithm
    # as $2b$; passlib's bcrypt wrapper does not load with bcrypt 5, so the
    # $2y$ vector is a $2b$ hash under PHP's prefix, as PHP writes them.
    add("bcrypt-2b", pw, bcrypt.hashpw(b, bcrypt.gensalt(rounds=4)).decode())
    add("bcrypt-2a", pw, bcrypt.hashpw(b, bcrypt.gensalt(rounds=4, prefix=b"2a")).decode())
    add("bcrypt-2y", pw, "$2y$" + bcrypt.hashpw(b, bcrypt.gensalt(rounds=4)).decode()[4:])
    # argon2 (argon2-cffi).
    add("argon2id", pw, argon2.PasswordHasher(time_cost=1, memory_cost=64, parallelism=1, type=argon2.Type.ID).hash(pw))
    add("argon2i", pw, argon2.PasswordHasher(time_cost=1, memory_cost=64, parallelism=1, type=argon2.Type.I).hash(pw), expect="unsupported")
    add("django-argon2", pw, ph.django_argon2.using(type="ID", rounds=1, memory_cost=64, parallelism=1).hash(pw))
    # pbkdf2: passlib's PHC-like strings (adapted base64) and Django's.
    add("pbkdf2-sha256", pw, ph.pbkdf2_sha256.using(rounds=1000).hash(pw))
    add("pbkdf2-sha512", pw, ph.pbkdf2_sha512.using(rounds=1000).hash(pw))
    add("pbkdf2-sha1", pw, ph.pbkdf2_sha1.using(rounds=1000).hash(pw))
    add("django-pbkdf2-sha256", pw, ph.django_pbkdf2_sha256.using(rounds=1000).hash(pw))
    add("django-pbkdf2-sha1", pw, ph.django_pbkdf2_sha1.using(rounds=1000).hash(pw))
    # Django's BCryptSHA256PasswordHasher: bcrypt over the SHA-256 hex digest.
    add("django-bcrypt-sha256", pw, "bcrypt_sha256$" + bcrypt.hashpw(hashlib.sha256(b).hexdigest().encode(), bcrypt.gensalt(rounds=4)).decode(), expect="unsupported")
    add("django-salted-sha1", pw, ph.django_salted_sha1.hash(pw), expect="unsupported")
    # Django's own hashers.
    add("django5-pbkdf2-sha256", pw, DjangoPBKDF2().encode(pw, DjangoPBKDF2().salt()))
    add("django5-pbkdf2-sha1", pw, DjangoPBKDF2SHA1().encode(pw, DjangoPBKDF2SHA1().salt()))
    add("django5-argon2", pw, DjangoArgon2().encode(pw, DjangoArgon2().salt()))
    add("django5-bcrypt", pw, DjangoBCrypt().encode(pw, DjangoBCrypt().salt()))
    add("django5-bcrypt-sha256", pw, DjangoBCryptSHA256().encode(pw, DjangoBCryptSHA256().salt()), expect="unsupported")
    add("django5-scrypt", pw, dj.ScryptPasswordHasher().encode(pw, dj.ScryptPasswordHasher().salt(), n=16), expect="unsupported")
    add("django5-md5", pw, dj.MD5PasswordHasher().encode(pw, dj.MD5PasswordHasher().salt()), expect="unsupported")
    # LDAP.
    add("ldap-ssha", pw, ph.ldap_salted_sha1.hash(pw))
    add("ldap-ssha256", pw, ph.ldap_salted_sha256.hash(pw))
    add("ldap-ssha512", pw, ph.ldap_salted_sha512.hash(pw))
    add("ldap-smd5", pw, ph.ldap_salted_md5.hash(pw))
    add("ldap-sha", pw, ph.ldap_sha1.hash(pw))
    add("ldap-md5", pw, ph.ldap_md5.hash(pw))
    add("ldap-crypt-des", pw, "{CRYPT}" + ph.des_crypt.hash(pw), expect="unsupported")
    # Bare salted digests (hashlib), password ‖ salt, in each salt encoding.
    salt = os.urandom(8 + i)
    for name, alg in [("sha1", "sha1"), ("sha256", "SHA-256"), ("sha512", "sha512"), ("md5", "md5")]:
        digest = hashlib.new(name, b + salt).digest()
        add(f"{name}-hex", pw, digest.hex(), salt=salt.hex(), algorithm=alg, salt_encoding="hex")
        add(f"{name}-base64", pw, base64.b64encode(digest).decode(), salt=base64.b64encode(salt).decode(), algorithm=alg, salt_encoding="base64")
        text_salt = base64.b32encode(salt).decode().rstrip("=").lower()
        digest = hashlib.new(name, b + text_salt.encode()).digest()
        add(f"{name}-plain-salt", pw, digest.hex(), salt=text_salt, algorithm=alg, salt_encoding="plain")
        # salt ‖ password: the target cannot verify it.
        digest = hashlib.new(name, salt + b).digest()
        add(f"{name}-salt-first", pw, digest.hex(), salt=salt.hex(), algorithm=f"{name}_salt_password", salt_encoding="hex", expect="unsupported")
    # Unsalted SHA-256 hex, algorithm inferred from the length.
    add("sha256-unsalted-inferred", pw, hashlib.sha256(b).hexdigest())
    # Formats the target cannot verify.
    add("scrypt", pw, ph.scrypt.using(rounds=4).hash(pw), expect="unsupported")
    add("md5-crypt", pw, ph.md5_crypt.hash(pw), expect="unsupported")
    add("sha512-crypt", pw, ph.sha512_crypt.using(rounds=1000).hash(pw), expect="unsupported")
    add("firebase-scrypt", pw, base64.b64encode(os.urandom(32)).decode(), salt=base64.b64encode(os.urandom(16)).decode(), algorithm="firebase_scrypt", expect="unsupported")
    add("hmac-sha256", pw, hashlib.sha256(b).hexdigest(), algorithm="hmac_sha256", expect="unsupported")
    add("md4", pw, "0" * 32, algorithm="md4", expect="unsupported")

json.dump(vectors, __import__("sys").stdout, indent=1, ensure_ascii=False)
print()
