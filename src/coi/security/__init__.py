"""Security controls: protected paths, secret masks, mount validation, credential policy,
untrusted project config. docs/security.md describes what each protects and what not.

Submodules are imported by their callers; this package imports nothing on its own.
"""
