"""setup.py, CMakeLists.txt, package.xml and lumos_ros.executables must agree."""

import ast
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import lumos_core
from lumos_ros.executables import NODES

REPO = Path(__file__).resolve().parent.parent


def _setup_kwargs() -> dict:
    tree = ast.parse((REPO / "setup.py").read_text())
    call = next(node for node in ast.walk(tree)
                if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "setup")
    consts = {node.targets[0].id: ast.literal_eval(node.value) for node in tree.body
              if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)}
    kwargs = {}
    for kw in call.keywords:
        if kw.arg in ("name",) and isinstance(kw.value, ast.Name):
            kwargs[kw.arg] = consts[kw.value.id]
        elif kw.arg in ("version", "entry_points", "extras_require"):
            kwargs[kw.arg] = ast.literal_eval(kw.value)
        elif kw.arg == "data_files":
            kwargs[kw.arg] = ast.unparse(kw.value)
    return kwargs


def _cmake_list(name: str) -> dict[str, str]:
    text = (REPO / "CMakeLists.txt").read_text()
    body = re.search(rf"set\({name}\s+(.*?)\)", text, re.S).group(1)
    return dict(item.split("=", 1) for item in re.findall(r'"([^"]+)"', body))


def test_name_and_version_agree():
    xml = ET.parse(REPO / "package.xml").getroot()
    setup = _setup_kwargs()
    cmake = (REPO / "CMakeLists.txt").read_text()
    assert xml.findtext("name") == setup["name"] == "lumos_ros"
    assert re.search(r"project\((\w+)\)", cmake).group(1) == "lumos_ros"
    assert xml.findtext("version") == setup["version"] == lumos_core.__version__
    assert xml.find("export/build_type").text == "ament_cmake"


def test_entry_points_agree():
    scripts = dict(s.replace(" ", "").split("=", 1)
                   for s in _setup_kwargs()["entry_points"]["console_scripts"])
    cmake = {**_cmake_list("LUMOS_CONSOLE_SCRIPTS"), **_cmake_list("LUMOS_NODE_EXECUTABLES")}
    assert scripts == cmake
    assert _cmake_list("LUMOS_NODE_EXECUTABLES") == NODES
    assert scripts["lumos"] == "lumos_core.cli:main"


def test_entry_points_resolve():
    import importlib

    for target in NODES.values():
        module, func = target.split(":")
        assert callable(getattr(importlib.import_module(module), func)), target


def test_installed_data_agree():
    data_files = _setup_kwargs()["data_files"]
    cmake = (REPO / "CMakeLists.txt").read_text()
    for folder in ("config", "launch"):
        assert f"share/{{PACKAGE}}/{folder}" in data_files
        assert re.search(rf"install\(DIRECTORY [^)]*\b{folder}\b[^)]*share/\${{PROJECT_NAME}}",
                         cmake)
    assert "package.xml" in data_files


def test_interfaces_are_all_generated():
    cmake = (REPO / "CMakeLists.txt").read_text()
    listed = set(re.findall(r'"((?:msg|srv)/\w+\.(?:msg|srv))"', cmake))
    on_disk = {p.relative_to(REPO).as_posix() for p in
               list(REPO.glob("msg/*.msg")) + list(REPO.glob("srv/*.srv"))}
    assert listed == on_disk


def test_package_xml_declares_build_dependencies():
    xml = ET.parse(REPO / "package.xml").getroot()
    deps = {e.text for e in xml if e.tag.endswith("depend")}
    assert {"ament_cmake", "ament_cmake_python", "rosidl_default_generators",
            "rosidl_default_runtime", "rclpy", "std_msgs"} <= deps
    assert xml.findtext("member_of_group") == "rosidl_interface_packages"
    assert "extras_require" in _setup_kwargs()
