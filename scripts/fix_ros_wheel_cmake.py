#!/usr/bin/env python3
"""Point the ROS 2 wheels' exported CMake files at this interpreter (idempotent).

The Kilted wheels export CMake targets whose include paths name the wheel builder's Python
(``/opt/python/cpXY-cpXY/...``), which does not exist here and breaks
``rosidl_generate_interfaces``. Rewrite those prefixes to this venv's include dir and purelib.
"""

import re
import sys
import sysconfig
from pathlib import Path

BUILDER = re.compile(r"/opt/python/cp\d+-cp\d+[mu]?/(include/python3\.\d+|lib/python3\.\d+/"
                     r"site-packages)")


def main() -> int:
    prefix = Path(sys.prefix)
    paths = sysconfig.get_paths()
    targets = {"include": paths["include"], "lib": paths["purelib"]}
    changed = 0
    for file in (prefix / "share").rglob("*.cmake"):
        text = file.read_text()
        new = BUILDER.sub(lambda m: targets[m.group(1).split("/")[0]], text)
        if new != text:
            file.write_text(new)
            changed += 1
    print(f"fix_ros_wheel_cmake: rewrote {changed} CMake file(s) under {prefix / 'share'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
