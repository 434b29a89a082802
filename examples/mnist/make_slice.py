#!/usr/bin/env python3
"""Writes mnist_6000.npz: images 0-5999 of the MNIST test set and their labels, from ../shared/data/mnist.

Plain Python 3 (no NumPy): the .npy files are copied with a rewritten header, and the .npz is a zip of two .npy
entries (images.npy, labels.npy) compressed with deflate, with fixed timestamps so the output is reproducible.

    python3 examples/mnist/make_slice.py [SOURCE_DIR] [OUTPUT]
"""
import ast
import hashlib
import os
import struct
import sys
import zipfile

COUNT = 6000


def read_npy(path):
    """Returns (descr, shape, data bytes) of a C-order .npy file."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:6] != b"\x93NUMPY":
        raise SystemExit(f"{path}: not a .npy file")
    major = raw[6]
    if major == 1:
        (hlen,), start = struct.unpack("<H", raw[8:10]), 10
    else:
        (hlen,), start = struct.unpack("<I", raw[8:12]), 12
    header = ast.literal_eval(raw[start:start + hlen].decode("latin1"))
    if header["fortran_order"]:
        raise SystemExit(f"{path}: Fortran order is not supported")
    return header["descr"], tuple(header["shape"]), raw[start + hlen:]


def npy_bytes(descr, shape, data):
    """A version 1.0 .npy file: magic, header padded with spaces to a multiple of 64 bytes, data."""
    header = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (
        descr, ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else ""))
    pad = 64 - (10 + len(header) + 1) % 64
    header = (header + " " * pad + "\n").encode("latin1")
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + data


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "..", "shared", "data", "mnist")
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(here, "mnist_6000.npz")
    entries = []
    for name, source in (("images.npy", "images_u8.npy"), ("labels.npy", "labels_u8.npy")):
        descr, shape, data = read_npy(os.path.join(src, source))
        if descr != "|u1":
            raise SystemExit(f"{source}: expected uint8, found {descr}")
        per_item = len(data) // shape[0]
        entries.append((name, npy_bytes(descr, (COUNT,) + shape[1:], data[:COUNT * per_item])))
    with zipfile.ZipFile(out, "w") as z:
        for name, content in entries:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, content, compresslevel=9)
    with open(out, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    print(f"{out}: {os.path.getsize(out)} bytes, sha256 {digest}")


if __name__ == "__main__":
    main()
