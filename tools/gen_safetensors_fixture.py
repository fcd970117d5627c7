#!/usr/bin/env python3
"""Writes tests/golden/safetensors/fixture.safetensors with the reference Python
`safetensors` library, and fixture.json next to it with the expected contents.

Not run in CI: the fixture is committed. Run it again only to regenerate the
fixture, e.g. after changing the tensors below:

    python3 tools/gen_safetensors_fixture.py            # writes the fixture
    python3 tools/gen_safetensors_fixture.py --verify some.safetensors
                                                        # prints a file's tensors as the
                                                        # reference library reads them

The script creates a virtual environment under /tmp (LSK_SAFETENSORS_VENV
overrides the location), pip-installs safetensors and numpy there and re-runs
itself inside it. The library versions used are stored in fixture.json.

Tensors cover F32, F64, F16, BF16, I32, I64, a rank-0 array (which the
library stores with shape [1]; fixture.json records the shapes as written) and
an empty tensor; no value is zero except inside the I64 case, so a reader that returns
zeros fails. BF16 has no numpy dtype: its bits are made here with
round-to-nearest-even from float32 and handed to the library as raw bytes.
"""
import json
import os
import subprocess
import sys
import venv

VENV = os.environ.get("LSK_SAFETENSORS_VENV", "/tmp/lsk-safetensors-venv")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "tests", "golden", "safetensors")


def in_venv():
    return os.path.realpath(sys.prefix) == os.path.realpath(VENV)


def ensure_venv_and_rerun():
    python = os.path.join(VENV, "bin", "python")
    if not os.path.exists(python):
        venv.create(VENV, with_pip=True)
    subprocess.check_call([python, "-m", "pip", "install", "-q", "safetensors", "numpy"])
    os.execv(python, [python, os.path.abspath(__file__)] + sys.argv[1:])


def bf16_bits(values):
    import numpy as np

    f = np.asarray(values, dtype=np.float32)
    u = f.view(np.uint32).astype(np.uint64)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16  # round to nearest, ties to even (finite inputs)
    return rounded.astype(np.uint16)


def generate():
    import numpy as np
    import safetensors
    from safetensors import TensorSpec

    arrays = {
        "f32": np.array([[0.5, -1.25, 3.0e-3], [1.0e20, -7.0, 2.0 ** -20]], dtype=np.float32),
        "f64": np.array([0.1, -2.0 / 3.0, 1.0e300], dtype=np.float64),
        "f16": np.array([[1.0, -2.5], [65504.0, 2.0 ** -24]], dtype=np.float16),
        "i32": np.array([-7, 123456], dtype=np.int32),
        "i64": np.array([[0, -1, 2 ** 40]], dtype=np.int64),
        "scalar": np.array(3.5, dtype=np.float32),
        "empty": np.zeros((0, 4), dtype=np.float32),
        "model.layers.0.mlp.up_proj.weight": np.arange(1, 13, dtype=np.float32).reshape(4, 3) / 8.0,
    }
    bf16_source = np.array([1.0, -3.140625, 1.0e-3, 65536.0 + 256.0, 1.00390625, -1.01171875], dtype=np.float32)
    bf16 = bf16_bits(bf16_source)

    specs = {}
    for name, a in arrays.items():
        a = np.ascontiguousarray(a)
        arrays[name] = a
        specs[name] = TensorSpec(dtype=a.dtype.name, shape=list(a.shape), data_ptr=a.ctypes.data, data_len=a.nbytes)
    specs["bf16"] = TensorSpec(dtype="bfloat16", shape=[2, 3], data_ptr=bf16.ctypes.data, data_len=bf16.nbytes)

    metadata = {"format": "pt", "lsk_fixture": "v1", "note": "written by the reference safetensors library"}
    os.makedirs(OUT_DIR, exist_ok=True)
    path = os.path.join(OUT_DIR, "fixture.safetensors")
    safetensors.serialize_file(specs, path, metadata=metadata)

    # Shapes as the library wrote them (it stores a rank-0 array as shape [1]).
    with open(path, "rb") as f:
        written = {name: t for name, t in safetensors.deserialize(f.read())}
    os.chmod(path, 0o644)

    names = {np.dtype("float32"): "F32", np.dtype("float64"): "F64", np.dtype("float16"): "F16",
             np.dtype("int32"): "I32", np.dtype("int64"): "I64"}
    expected = {}
    for name, a in arrays.items():
        values = a.reshape(-1).tolist()
        if a.dtype.kind == "f":
            values = [float(np.float64(v)) for v in values]
        assert written[name]["dtype"] == names[a.dtype] and bytes(written[name]["data"]) == a.tobytes()
        expected[name] = {"dtype": names[a.dtype], "shape": list(written[name]["shape"]), "values": values}
    bf16_as_f32 = (bf16.astype(np.uint32) << 16).view(np.float32)
    assert bytes(written["bf16"]["data"]) == bf16.tobytes()
    expected["bf16"] = {"dtype": "BF16", "shape": list(written["bf16"]["shape"]), "values": [float(v) for v in bf16_as_f32],
                        "bits": [int(b) for b in bf16]}

    doc = {
        "generator": {
            "script": "tools/gen_safetensors_fixture.py",
            "safetensors": safetensors.__version__,
            "numpy": np.__version__,
            "python": sys.version.split()[0],
        },
        "file": "fixture.safetensors",
        "metadata": metadata,
        "tensors": expected,
    }
    with open(os.path.join(OUT_DIR, "fixture.json"), "w") as f:
        json.dump(doc, f, indent=2, sort_keys=True)
        f.write("\n")
    print(f"wrote {path} ({os.path.getsize(path)} bytes) and fixture.json")


def verify(path):
    import numpy as np
    import safetensors

    with open(path, "rb") as f:
        data = f.read()
    types = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "I32": np.int32, "I64": np.int64}
    result = {}
    for name, t in safetensors.deserialize(data):
        raw = bytes(t["data"])
        if t["dtype"] == "BF16":
            values = (np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)
        else:
            values = np.frombuffer(raw, dtype=types[t["dtype"]])
        result[name] = {"dtype": t["dtype"], "shape": list(t["shape"]), "values": [float(v) for v in values]}
    header_len = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + header_len])
    print(json.dumps({"metadata": header.get("__metadata__", {}), "tensors": result}, indent=1, sort_keys=True))


def main():
    if not in_venv():
        ensure_venv_and_rerun()
    if len(sys.argv) == 3 and sys.argv[1] == "--verify":
        verify(sys.argv[2])
    elif len(sys.argv) == 1:
        generate()
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
