"""Per-epoch progress bar: shown when asked for and on a terminal (or a notebook), else silent."""

from __future__ import annotations

import sys
from typing import Any


def _interactive() -> bool:
    return sys.stderr.isatty() or "ipykernel" in sys.modules


class Progress:
    """A tqdm bar over epochs, or nothing at all."""

    def __init__(self, total: int, desc: str, enabled: bool) -> None:
        self._bar: Any = None
        if enabled and _interactive():
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=desc, unit="epoch", leave=True)

    def update(self, **postfix: float) -> None:
        if self._bar is not None:
            self._bar.set_postfix({k: f"{v:.4g}" for k, v in postfix.items()}, refresh=False)
            self._bar.update(1)

    def skip(self, epochs: int) -> None:
        """Count ``epochs`` already done (a resumed run) without a loss to show."""
        if self._bar is not None:
            self._bar.update(epochs)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
