"""Record which torchrun rank opens which file, for tests/test_distributed.py.

Put on ``PYTHONPATH`` of a ``torchrun`` launch with ``OMICSFUSION_RANK_AUDIT``
set to a folder: every worker (``RANK`` set) appends one line per file it
opens, creates or renames into place under that folder to
``<folder>/rank<RANK>.log`` as ``<time_ns> <read|write|append> <path>``. Python's
audit hooks see ``open``, ``os.open`` and ``os.replace``, which is how the
Python writers (pandas, numpy, PIL, tensorboard, atomic_write) reach the disk;
writers in C++ that open a path themselves (``torch.save(obj, path)``) are not seen.
"""

import os
import sys
import time

_ROOT = os.environ.get("OMICSFUSION_RANK_AUDIT")
_RANK = os.environ.get("RANK")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC


def _record(kind: str, path) -> None:
    try:
        path = os.path.abspath(os.fsdecode(path))
    except TypeError:  # a file descriptor
        return
    if path.startswith(_ROOT + os.sep):
        os.write(_LOG, f"{time.time_ns()} {kind} {path}\n".encode())


def _hook(event: str, args: tuple) -> None:
    if event == "open":
        path, mode, flags = args
        if "a" in (mode or "") or flags & os.O_APPEND:
            _record("append", path)
        else:
            writes = any(c in mode for c in "wx+") if isinstance(mode, str) else bool(flags & _WRITE_FLAGS)
            _record("write" if writes else "read", path)
    elif event == "os.rename":  # os.rename and os.replace
        _record("write", args[1])


if _ROOT and _RANK is not None:
    _ROOT = os.path.abspath(_ROOT)
    _LOG = os.open(os.path.join(_ROOT, f"rank{_RANK}.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sys.addaudithook(_hook)
