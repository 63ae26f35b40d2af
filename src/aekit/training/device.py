"""Device choice."""

from __future__ import annotations

import torch

from aekit._text import plural

# Device types aekit trains and predicts on. Others that torch names (meta, xla, ipu, ...) either
# hold no data (meta) or need a backend aekit is not written or tested for: refused up front
# rather than failing deep inside training with a torch error.
SUPPORTED = ("cpu", "cuda", "mps")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return mps is not None and mps.is_available()


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Return the torch device for ``device``; ``"auto"`` picks cuda, then mps, then cpu.

    Parameters
    ----------
    device : str or torch.device, default="auto"
        ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``.

    Returns
    -------
    torch.device

    Raises
    ------
    ValueError
        For a name torch does not know, a device type aekit does not run on (such as
        ``"meta"``), or a device this machine does not have (CUDA or MPS unavailable, a CUDA
        index beyond the GPUs present).

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    >>> resolve_device("meta")
    Traceback (most recent call last):
    ...
    ValueError: device 'meta' is not one aekit runs on; use 'auto', 'cpu', 'cuda[:N]' or 'mps'
    """
    if isinstance(device, str) and device.strip().lower() == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if isinstance(device, torch.device):
        resolved = device
    else:
        try:
            resolved = torch.device(device)
        except (RuntimeError, TypeError, ValueError):
            raise ValueError(
                f"unknown device {device!r}; use 'auto', 'cpu', 'cuda[:N]' or 'mps'"
            ) from None
    if resolved.type not in SUPPORTED:
        raise ValueError(
            f"device {str(device)!r} is not one aekit runs on; use 'auto', 'cpu', 'cuda[:N]' "
            "or 'mps'"
        )
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {str(device)!r} was asked for but CUDA is not available here")
        count = torch.cuda.device_count()
        if resolved.index is not None and resolved.index >= count:
            held = "cuda:0" if count == 1 else f"cuda:0 to cuda:{count - 1}"
            raise ValueError(
                f"device {str(device)!r} was asked for but this machine has "
                f"{plural(count, 'CUDA device')} ({held})"
            )
    if resolved.type == "mps" and not _mps_available():
        raise ValueError(
            f"device {str(device)!r} was asked for but MPS (Apple's GPU backend) is not "
            "available here"
        )
    return resolved
