"""Naming a branch's environment and filling in a template's placeholders (plain values).

A branch name comes from CI and may hold anything git allows (and more, from a careless
client): "../", spaces, quotes, `$(…)`, unicode, 255 characters. What reaches a path, a URL
or a shell command is never the branch itself but its slug: lowercase ASCII letters, digits
and single hyphens, no longer than an environment's name (docs/branch-environments.md).
"""

import hashlib
import re
import unicodedata
from typing import Any

BRANCH = "{branch}"
PORT = "{port}"
PLACEHOLDERS = (BRANCH, PORT)
MAX_NAME = 64  # Environment.name
SUFFIX_CHARS = 8  # "-" + 7 hex characters of the branch's sha-256, when slugs collide
FALLBACK = "branch"  # a branch with no letter or digit at all ("///", "🚀")


def slugify_branch(branch: str, *, max_length: int = MAX_NAME) -> str:
    """ "feature/Gift Cards" → "feature-gift-cards": letters and digits (accents folded to
    ASCII), every other run of characters one hyphen, none at the ends."""
    ascii_text = unicodedata.normalize("NFKD", branch).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].rstrip("-") or FALLBACK


def disambiguated(branch: str, *, max_length: int = MAX_NAME) -> str:
    """The slug with a short hash of the whole branch name: for when the plain slug is taken
    (two branches slugify alike, or a declared environment has that name)."""
    digest = hashlib.sha256(branch.encode("utf-8", "surrogatepass")).hexdigest()[:7]
    return f"{slugify_branch(branch, max_length=max_length - SUFFIX_CHARS)}-{digest}"


def render(value: Any, *, name: str, port: int | None) -> Any:
    """`value` (a string, or a dict/list of them) with {branch} and {port} filled in. Only
    these two exact tokens: anything else in braces (a shell's ${VAR}) stays as written."""
    if isinstance(value, str):
        value = value.replace(BRANCH, name)
        return value.replace(PORT, str(port)) if port is not None else value
    if isinstance(value, dict):
        return {key: render(item, name=name, port=port) for key, item in value.items()}
    if isinstance(value, list):
        return [render(item, name=name, port=port) for item in value]
    return value


def uses_placeholder(value: Any, placeholder: str) -> bool:
    if isinstance(value, str):
        return placeholder in value
    if isinstance(value, dict):
        return any(uses_placeholder(item, placeholder) for item in value.values())
    if isinstance(value, list):
        return any(uses_placeholder(item, placeholder) for item in value)
    return False
