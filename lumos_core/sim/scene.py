"""Geometry of the simulated play table (modelled on CALVIN scene D), generated as URDF text.

World frame = robot base frame: x forward (away from the robot), y left, z up; the table top is
z = 0. Everything is built from boxes so that TinyRenderer draws a frame in a few milliseconds;
the Panda reuses its collision meshes as visuals (the stock visual meshes cost 25-39 ms/frame).

Fixtures (one articulated URDF, prismatic joints):
- drawer: an open-top tray under a housing on the right, pulled towards the robot (-x) to open;
  a handle bar with a gap in front of it, so closed fingers can hook it.
- sliding lid ("slider"): a lid over a two-compartment cabinet on the left, moved along y; a fin
  on top is pushed sideways. Blocks are placed into the uncovered compartment.
- button + LED: a push button on the right; every press toggles the LED.
- switch + light bulb: a knob sliding along x; pushed away (+x) the bulb is on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# --- layout (metres) -------------------------------------------------------------------------
TABLE = dict(x=(-0.15, 0.95), y=(-0.75, 0.75), thickness=0.05)

DRAWER_Y = (-0.52, -0.30)           # tray outer width in y
DRAWER_CLOSED_X = (0.50, 0.72)      # tray outer extent in x when closed
DRAWER_TRAVEL = 0.16                # joint range [0, travel]; opening moves the tray by -q in x
DRAWER_WALL = 0.06                  # tray wall height
HOUSING_TOP = 0.085                 # underside of the housing roof
HANDLE_GAP = 0.05                   # distance of the handle bar from the tray's front wall

CABINET_X = (0.50, 0.68)
CABINET_Y = (0.14, 0.50)            # two compartments split at the middle
CABINET_WALL = 0.08
LID_TRAVEL = 0.18                   # lid covers the right compartment at 0, the left at travel

BUTTON_XY = (0.62, -0.16)
BUTTON_TRAVEL = 0.012               # pressing moves the cap down by up to this
BUTTON_PRESS = 0.008                # depth at which a press registers
LED_XY = (0.70, -0.16)

SWITCH_Y = 0.0
SWITCH_X = (0.58, 0.66)             # knob centre at q = 0 (off) and q = travel (on)
BULB_XY = (0.84, 0.0)

BLOCK_SIZES = {                     # full extents (x, y, z) in the block's frame
    "red": (0.060, 0.032, 0.032),
    "blue": (0.050, 0.036, 0.036),
    "pink": (0.064, 0.030, 0.030),
}
BLOCK_COLORS = {"red": (0.85, 0.1, 0.1, 1), "blue": (0.1, 0.25, 0.9, 1),
                "pink": (0.95, 0.45, 0.75, 1)}
BLOCK_AREA = dict(x=(0.30, 0.46), y=(-0.16, 0.10))   # where blocks start on the table


def drawer_tray_x(q: float) -> tuple[float, float]:
    """Outer x extent of the drawer tray at joint position ``q``."""
    return DRAWER_CLOSED_X[0] - q, DRAWER_CLOSED_X[1] - q


def lid_y(q: float) -> tuple[float, float]:
    """y extent of the sliding lid at joint position ``q``."""
    mid = (CABINET_Y[0] + CABINET_Y[1]) / 2
    return CABINET_Y[0] + q, mid + q


def compartments() -> dict[str, tuple[float, float]]:
    """y extents of the right (low y) and left compartments of the cabinet."""
    mid = (CABINET_Y[0] + CABINET_Y[1]) / 2
    return {"right": (CABINET_Y[0], mid), "left": (mid, CABINET_Y[1])}


# --- URDF generation -------------------------------------------------------------------------
@dataclass
class Box:
    """A box visual+collision element of a link."""

    size: tuple[float, float, float]
    xyz: tuple[float, float, float]
    rgba: tuple[float, float, float, float]


def _link(name: str, boxes: list[Box], mass: float = 0.0) -> str:
    parts = []
    for box in boxes:
        geom = (f'<origin xyz="{box.xyz[0]:.4f} {box.xyz[1]:.4f} {box.xyz[2]:.4f}"/>'
                f'<geometry><box size="{box.size[0]:.4f} {box.size[1]:.4f} '
                f'{box.size[2]:.4f}"/></geometry>')
        rgba = " ".join(f"{c:.3f}" for c in box.rgba)
        parts.append(f'<visual>{geom}<material name="{name}_m{len(parts)}"><color rgba="{rgba}"/>'
                     f'</material></visual><collision>{geom}</collision>')
    inertia = ('<inertial><mass value="{m}"/><inertia ixx="1e-3" iyy="1e-3" izz="1e-3" '
               'ixy="0" ixz="0" iyz="0"/></inertial>').format(m=mass)
    return f'<link name="{name}">{inertia}{"".join(parts)}</link>'


def _joint(name: str, kind: str, parent: str, child: str, xyz=(0, 0, 0), axis=(1, 0, 0),
           limits=(0.0, 0.0)) -> str:
    text = (f'<joint name="{name}" type="{kind}"><parent link="{parent}"/><child link="{child}"/>'
            f'<origin xyz="{xyz[0]:.4f} {xyz[1]:.4f} {xyz[2]:.4f}"/>')
    if kind == "prismatic":
        text += (f'<axis xyz="{axis[0]} {axis[1]} {axis[2]}"/>'
                 f'<limit lower="{limits[0]}" upper="{limits[1]}" effort="100" velocity="1"/>')
    return text + "</joint>"


def _span(lo: float, hi: float) -> tuple[float, float]:
    return (hi - lo, (hi + lo) / 2)


WOOD = (0.62, 0.45, 0.30, 1)
DARK_WOOD = (0.42, 0.30, 0.20, 1)
GREY = (0.55, 0.55, 0.58, 1)
HANDLE = (0.15, 0.15, 0.15, 1)
LED_OFF = (0.1, 0.25, 0.1, 1)
LED_ON = (0.1, 1.0, 0.1, 1)
BULB_OFF = (0.45, 0.45, 0.35, 1)
BULB_ON = (1.0, 0.95, 0.2, 1)


def playtable_urdf() -> str:
    """URDF of the table with all fixtures; link names are the fixture names."""
    links, joints = [], []
    tx, cx = _span(*TABLE["x"])
    ty, cy = _span(*TABLE["y"])
    t = TABLE["thickness"]
    links.append(_link("table", [Box((tx, ty, t), (cx, cy, -t / 2), WOOD)]))

    # drawer housing: roof and two side walls, fixed to the table
    hx, hcx = _span(DRAWER_CLOSED_X[0] + 0.03, DRAWER_CLOSED_X[1] + 0.02)
    wy, wcy = _span(DRAWER_Y[0] - 0.02, DRAWER_Y[1] + 0.02)
    roof = Box((hx, wy, 0.02), (hcx, wcy, HOUSING_TOP + 0.01), DARK_WOOD)
    side_r = Box((hx, 0.012, HOUSING_TOP), (hcx, DRAWER_Y[0] - 0.014, HOUSING_TOP / 2), DARK_WOOD)
    side_l = Box((hx, 0.012, HOUSING_TOP), (hcx, DRAWER_Y[1] + 0.014, HOUSING_TOP / 2), DARK_WOOD)
    back = Box((0.012, wy, HOUSING_TOP), (DRAWER_CLOSED_X[1] + 0.026, wcy, HOUSING_TOP / 2),
               DARK_WOOD)
    links.append(_link("drawer_housing", [roof, side_r, side_l, back]))
    joints.append(_joint("drawer_housing_fixed", "fixed", "table", "drawer_housing"))

    # drawer tray (child frame at the closed tray centre, floor at z = 0.004)
    dx, dcx = _span(*DRAWER_CLOSED_X)
    dy, dcy = _span(*DRAWER_Y)
    w = 0.008
    tray = [
        Box((dx, dy, w), (0, 0, w / 2), WOOD),
        Box((w, dy, DRAWER_WALL), (-dx / 2 + w / 2, 0, DRAWER_WALL / 2), WOOD),
        Box((w, dy, DRAWER_WALL), (dx / 2 - w / 2, 0, DRAWER_WALL / 2), WOOD),
        Box((dx, w, DRAWER_WALL), (0, -dy / 2 + w / 2, DRAWER_WALL / 2), WOOD),
        Box((dx, w, DRAWER_WALL), (0, dy / 2 - w / 2, DRAWER_WALL / 2), WOOD),
        # handle: a bar in front of the front wall on two posts; closed fingers hook the gap
        Box((0.012, 0.12, 0.012), (-dx / 2 - HANDLE_GAP, 0, DRAWER_WALL - 0.006), HANDLE),
        Box((HANDLE_GAP, 0.01, 0.012), (-dx / 2 - HANDLE_GAP / 2, -0.055, DRAWER_WALL - 0.006),
            HANDLE),
        Box((HANDLE_GAP, 0.01, 0.012), (-dx / 2 - HANDLE_GAP / 2, 0.055, DRAWER_WALL - 0.006),
            HANDLE),
    ]
    links.append(_link("drawer", tray, mass=0.5))
    joints.append(_joint("drawer_joint", "prismatic", "table", "drawer", (dcx, dcy, 0.001),
                         (-1, 0, 0), (0.0, DRAWER_TRAVEL)))

    # cabinet: floor is the table; outer walls and a divider
    kx, kcx = _span(*CABINET_X)
    ky, kcy = _span(*CABINET_Y)
    h = CABINET_WALL
    cabinet = [
        Box((w * 1.5, ky, h), (CABINET_X[0], kcy, h / 2), DARK_WOOD),
        Box((w * 1.5, ky, h), (CABINET_X[1], kcy, h / 2), DARK_WOOD),
        Box((kx, w * 1.5, h), (kcx, CABINET_Y[0], h / 2), DARK_WOOD),
        Box((kx, w * 1.5, h), (kcx, CABINET_Y[1], h / 2), DARK_WOOD),
        Box((kx, w * 1.5, h), (kcx, kcy, h / 2), DARK_WOOD),
    ]
    links.append(_link("cabinet", cabinet))
    joints.append(_joint("cabinet_fixed", "fixed", "table", "cabinet"))

    # sliding lid (child frame at the lid centre when q = 0) with a fin to push
    ly = ky / 2
    lid = [Box((kx + 0.02, ly, 0.012), (0, 0, 0), GREY),
           Box((0.06, 0.014, 0.035), (-kx / 2 + 0.05, 0, 0.0235), HANDLE)]
    links.append(_link("slider", lid, mass=0.3))
    joints.append(_joint("slider_joint", "prismatic", "table", "slider",
                         (kcx, CABINET_Y[0] + ly / 2, h + 0.008), (0, 1, 0), (0.0, LID_TRAVEL)))

    # button on a base, and the LED
    base = Box((0.07, 0.07, 0.03), (BUTTON_XY[0], BUTTON_XY[1], 0.015), GREY)
    led_post = Box((0.03, 0.03, 0.05), (LED_XY[0], LED_XY[1], 0.025), GREY)
    links.append(_link("button_base", [base, led_post]))
    joints.append(_joint("button_base_fixed", "fixed", "table", "button_base"))
    links.append(_link("button", [Box((0.04, 0.04, 0.02), (0, 0, 0.01), (0.8, 0.1, 0.1, 1))],
                       mass=0.05))
    joints.append(_joint("button_joint", "prismatic", "table", "button",
                         (BUTTON_XY[0], BUTTON_XY[1], 0.03), (0, 0, -1), (0.0, BUTTON_TRAVEL)))
    links.append(_link("led", [Box((0.03, 0.03, 0.012), (0, 0, 0.006), LED_OFF)]))
    joints.append(_joint("led_fixed", "fixed", "table", "led", (LED_XY[0], LED_XY[1], 0.05)))

    # switch: a rail and a knob sliding along x; the bulb on a post
    sx, scx = _span(SWITCH_X[0] - 0.03, SWITCH_X[1] + 0.03)
    rail = Box((sx, 0.05, 0.02), (scx, SWITCH_Y, 0.01), GREY)
    post = Box((0.025, 0.025, 0.10), (BULB_XY[0], BULB_XY[1], 0.05), GREY)
    links.append(_link("switch_base", [rail, post]))
    joints.append(_joint("switch_base_fixed", "fixed", "table", "switch_base"))
    links.append(_link("switch", [Box((0.02, 0.03, 0.045), (0, 0, 0.0225), HANDLE)], mass=0.05))
    joints.append(_joint("switch_joint", "prismatic", "table", "switch",
                         (SWITCH_X[0], SWITCH_Y, 0.02), (1, 0, 0),
                         (0.0, SWITCH_X[1] - SWITCH_X[0])))
    links.append(_link("lightbulb", [Box((0.05, 0.05, 0.05), (0, 0, 0.025), BULB_OFF)]))
    joints.append(_joint("lightbulb_fixed", "fixed", "table", "lightbulb",
                         (BULB_XY[0], BULB_XY[1], 0.10)))
    body = "".join(links) + "".join(joints)
    return f'<?xml version="1.0"?><robot name="playtable">{body}</robot>'


def block_urdf(color: str) -> str:
    """URDF of one block."""
    size = BLOCK_SIZES[color]
    box = Box(size, (0, 0, 0), BLOCK_COLORS[color])
    return (f'<?xml version="1.0"?><robot name="block_{color}">'
            f'{_link("block", [box], mass=0.08)}</robot>')


def low_poly_panda_urdf(pybullet_data_path: str) -> str:
    """The pybullet_data Panda with collision meshes as visuals and absolute mesh paths."""
    root = Path(pybullet_data_path) / "franka_panda"
    text = (root / "panda.urdf").read_text()
    text = text.replace("meshes/visual/", "meshes/collision/")
    text = text.replace("package://meshes/", f"{root}/meshes/")
    # drop per-link material textures that point at the visual meshes' colour atlas
    return re.sub(r"<texture[^>]*/>", "", text)


def write_assets(directory: Path, pybullet_data_path: str) -> dict[str, Path]:
    """Write every URDF into ``directory`` and return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    files = {"panda": low_poly_panda_urdf(pybullet_data_path), "playtable": playtable_urdf()}
    files.update({f"block_{c}": block_urdf(c) for c in BLOCK_SIZES})
    paths = {}
    for name, text in files.items():
        path = directory / f"{name}.urdf"
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
        paths[name] = path
    return paths
