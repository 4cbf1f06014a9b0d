"""A stand-in for code installed beside torch (any third-party package), which
gen_hostile_globals.py's fixtures name: whatever of it torch.load calls leaves a
directory named ptport-marker-N in the current directory, and does nothing else."""

import os


def mark(*args, **kwargs):
    """Called by torch.load, it leaves a marker."""
    os.mkdir(f"ptport-marker-{len(os.listdir('.'))}")
    return 1.0


class Thing:
    """A class whose instances a pickle builds; calling one leaves a marker."""

    def __call__(self, *args, **kwargs):
        return mark()

    def __fspath__(self):
        mark()
        return "x"
