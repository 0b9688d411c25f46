"""Progress bar over presentations with live metrics (tqdm)."""

from __future__ import annotations

import sys

from tqdm.auto import tqdm

_SHOWN = ("test_accuracy", "test_loss", "train_loss", "inference_error_teacher")


class ProgressBar:
    """A tqdm bar that shows the latest metrics as its postfix.

    Parameters
    ----------
    total : int
        Number of presentations.
    enabled : bool
        ``False`` makes every method a no-op.
    desc : str
        Label in front of the bar.
    """

    def __init__(self, total: int, enabled: bool, desc: str = ""):
        self._bar = tqdm(total=total, desc=desc, unit="pres", disable=not enabled,
                         file=sys.stderr, dynamic_ncols=True, mininterval=0.5)

    def advance(self, n: int = 1) -> None:
        """Count ``n`` finished presentations."""
        self._bar.update(n)

    def update_metrics(self, row: dict[str, float]) -> None:
        """Show a few key metrics (and the mean |corr| of the input) in the postfix."""
        shown = {k: f"{v:.4g}" for k, v in row.items()
                 if k in _SHOWN or k.startswith("mean_abs_corr_")}
        self._bar.set_postfix(shown, refresh=False)

    def close(self) -> None:
        """Finish the bar."""
        self._bar.close()
