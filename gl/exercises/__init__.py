"""Checkers for the book's coding exercises, one module per chapter.

A checker takes the student's function, runs it on fresh random inputs against
``gl``'s own implementation, and raises ``AssertionError`` with a message that
says what is wrong (which input, expected vs got). On success it prints a line.
Every public name of every module here is importable as ``gl.exercises.NAME``.
"""
import importlib as _importlib
import pkgutil as _pkgutil

__all__ = []
for _m in _pkgutil.iter_modules(__path__):
    _mod = _importlib.import_module(f"{__name__}.{_m.name}")
    for _name in getattr(_mod, "__all__", []):
        globals()[_name] = getattr(_mod, _name)
        __all__.append(_name)
