"""Replacing fastreid attributes while keeping the originals: tests reproduce each defect with them."""
import contextlib

ORIGINALS = {}


def _key(owner, name):
    owner_name = getattr(owner, "__qualname__", getattr(owner, "__name__", owner))
    return f"{getattr(owner, '__module__', '')}.{owner_name}.{name}"


def replace(owner, name, new):
    """setattr that remembers the original (the first replacement's, when a fix wraps another)."""
    ORIGINALS.setdefault(_key(owner, name), getattr(owner, name, None))
    setattr(owner, name, new)


def original(owner, name):
    """The attribute fastreid shipped before ``apply()`` replaced it."""
    return ORIGINALS.get(_key(owner, name), getattr(owner, name))


@contextlib.contextmanager
def unpatched(owner, name):
    """Temporarily restore fastreid's original attribute (for tests that reproduce a defect)."""
    patched = getattr(owner, name)
    setattr(owner, name, original(owner, name))
    try:
        yield
    finally:
        setattr(owner, name, patched)


def rewrites_fastreid(fix):
    """Mark a fix that replaces fastreid code with a rewrite of its 1.4.0 version instead of
    wrapping it: on another fastreid version the rewrite could undo upstream changes."""
    fix.rewrites_fastreid = True
    return fix
