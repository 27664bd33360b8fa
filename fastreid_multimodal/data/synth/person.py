"""The SynthPerson pedestrian, drawn part by part into the label map (``labels``).

Geometry is a tiny 3-D model: every body point has a lateral and a forward coordinate, in units of
the person's height, that the viewpoint angle rotates; so widths, the visible face or back of the
head, the bag side, the visible arm and the walking stride all follow the viewpoint. Parts are
drawn back to front, so the far arm and leg, a backpack or long hair are hidden where the body
covers them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple, Optional, Tuple

from PIL import ImageDraw

from .attributes import Identity
from .environment import Environment
from .labels import (BAG, EYES, GLASSES, HAIR, HAT, LOWER, LOWER_FAR, SHADOW, SHOES, SHOES_FAR,
                     SKIN, SKIN_FAR, SLEEVE, STRAP, UPPER, UPPER_ALT, UPPER_FAR)

Point = Tuple[float, float]

WAIST_Y, HIP_Y = 0.45, 0.51   # heights below the top of the head, in person heights
FAR_DEPTH = -0.02   # a limb this far behind the body's centre plane is the darker far one


def _proj(a, b, c, s):
    """Half-width on screen of an ellipse with lateral half-axis a and forward half-axis b."""
    return math.sqrt((a * c) ** 2 + (b * s) ** 2)


def _between(p: Point, q: Point, t: float) -> Point:
    return (p[0] + (q[0] - p[0]) * t, p[1] + (q[1] - p[1]) * t)


def _near_or_far(near_label, far_label, depth):
    return far_label if depth < FAR_DEPTH else near_label


class Pen:
    """Draws in person units: ``P`` is the person's height in pixels, (``cx``, ``top``) the top of
    the head on screen, ``c``/``s`` the cosine/sine of the viewpoint angle."""

    __slots__ = ("d", "cx", "top", "P", "c", "s")

    def __init__(self, d, cx, top, P, c, s):
        self.d, self.cx, self.top, self.P, self.c, self.s = d, cx, top, P, c, s

    def x(self, xl, z=0.0):
        return self.cx + (xl * self.c + z * self.s) * self.P

    def y(self, f):
        return self.top + f * self.P

    def depth(self, xl, z=0.0):
        return z * self.c - xl * self.s

    def limb(self, p0, p1, width, label):
        w = max(1.0, width * self.P)
        self.d.line([p0, p1], fill=label, width=max(1, int(round(w))))
        r = w / 2.0
        if r >= 0.9:
            self.d.ellipse([p1[0] - r, p1[1] - r, p1[0] + r, p1[1] + r], fill=label)
            self.d.ellipse([p0[0] - r, p0[1] - r, p0[0] + r, p0[1] + r], fill=label)

    def ellipse(self, cx, cy, rx, ry, label):
        self.d.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=label)

    def poly(self, pts, label):
        self.d.polygon(pts, fill=label)

    def trapezoid(self, x_top, y_top, half_top, x_bottom, y_bottom, half_bottom, label):
        self.d.polygon([(x_top - half_top, y_top), (x_top + half_top, y_top),
                        (x_bottom + half_bottom, y_bottom), (x_bottom - half_bottom, y_bottom)],
                       fill=label)


@dataclass(frozen=True)
class Body:
    """One image's pedestrian: sizes in person heights unless they say ``px``."""

    pen: Pen
    feet_px: float
    face_visible: bool
    female: bool
    long_hair: bool
    head_x_px: float
    head_y_px: float
    head_radius_px: float
    head_half_width_px: float
    shoulder_y: float
    shoulder_half: float        # lateral
    chest_depth: float          # forward half-depth of the torso
    hip_half: float
    top_end: float              # where the upper garment ends
    arm_width: float
    leg_width: float
    swing: float                # arm and leg swing amplitude
    torso_x_px: float
    shoulder_half_px: float
    waist_half_px: float
    hip_half_px: float

    @classmethod
    def measure(cls, d: ImageDraw.ImageDraw, ident: Identity, env: Environment, H: int,
                W: int) -> "Body":
        P = H * 0.86 * ident.height * env.zoom
        feet = H * (0.975 + env.dy)
        top = feet - P
        cx = W * (0.5 + env.dx)
        th = math.radians(env.viewpoint_deg)
        c, s = math.cos(th), math.sin(th)
        pen = Pen(d, cx, top, P, c, s)
        b = ident.build
        female = ident.gender == "female"
        teen = ident.age == "teenager"
        older = ident.age == "older"
        head_r = 0.066 * (1.08 if teen else 1.0)
        head_a, head_b = 0.052 * (1.05 if teen else 1.0), 0.06
        stoop = 0.025 if older else 0.0
        sh_a = (0.118 if female else 0.138) * b
        t_b = 0.068 * b
        waist_a = (0.088 if female else 0.104) * b
        hip_a = (0.112 if female else 0.104) * b
        return cls(
            pen=pen, feet_px=feet, face_visible=c > -0.3, female=female,
            long_hair=ident.hair == "long",
            head_x_px=pen.x(0.0, stoop), head_y_px=pen.y(head_r + 0.004 + stoop * 0.4),
            head_radius_px=head_r * P, head_half_width_px=_proj(head_a, head_b, c, s) * P,
            shoulder_y=2 * head_r + 0.05, shoulder_half=sh_a, chest_depth=t_b, hip_half=hip_a,
            top_end=0.585 if ident.top_length == "long" else 0.49,
            arm_width=0.048 * math.sqrt(b),
            leg_width=(0.066 if female else 0.074) * math.sqrt(b),
            swing=ident.gait * env.stride,
            torso_x_px=pen.x(0.0, stoop * 0.4),  # shoulders lean a little with a stoop
            shoulder_half_px=_proj(sh_a, t_b, c, s) * P,
            waist_half_px=_proj(waist_a, t_b * 0.95, c, s) * P,
            hip_half_px=_proj(hip_a, t_b * 1.05, c, s) * P)


class Arm(NamedTuple):
    depth: float
    shoulder: Point
    elbow: Point
    wrist: Point


class Leg(NamedTuple):
    depth: float
    lateral: float
    hip: Point
    knee: Point
    ankle: Point
    ankle_forward: float
    ankle_y: float


def draw_person(d: ImageDraw.ImageDraw, ident: Identity, env: Environment, H: int, W: int):
    """Draw the pedestrian into label map ``d``; return (cx, half body width px, top, P)."""
    body = Body.measure(d, ident, env, H, W)
    _ground_shadow(body, env)
    if body.long_hair and body.face_visible:
        _hair_behind_head(body)
    bag = _bag_box(body, ident)
    if bag and bag[0] < 0:
        _draw_bag(body, ident, bag[1])
    arms = [_arm_pose(body, env, side) for side in (1.0, -1.0)]
    for arm in arms:
        if arm.depth < FAR_DEPTH:
            _draw_arm(body, ident, arm)
    legs = [_leg_pose(body, ident, env, side) for side in (1.0, -1.0)]
    for leg in sorted(legs, key=lambda leg: leg.depth):
        _draw_leg(body, ident, leg)
    _pelvis(body, ident, env)
    _torso(body, ident)
    _neck_and_head(body)
    if body.face_visible:
        _face(body, ident)
    _long_hair(body)
    if ident.hat:
        _hat(body, ident)
    if bag and bag[0] >= 0:
        _draw_bag(body, ident, bag[1])
    _straps(body, ident)
    for arm in sorted(arms, key=lambda arm: arm.depth):
        if arm.depth >= FAR_DEPTH:
            _draw_arm(body, ident, arm)
    pen = body.pen
    return pen.cx, max(body.shoulder_half_px, body.hip_half_px), pen.top, pen.P


def _ground_shadow(body: Body, env: Environment):
    pen = body.pen
    P = pen.P
    sl = (0.25 + 0.2 * abs(pen.s)) * P
    pen.ellipse(pen.cx + env.light_dir * 0.08 * P, body.feet_px - 0.004 * P, sl, 0.03 * P,
                SHADOW)


def _hair_behind_head(body: Body):
    """Long hair seen past the head and shoulders when the face is visible."""
    pen = body.pen
    hw = body.head_half_width_px
    ybot = pen.y(0.28 if body.female else 0.22)
    bx = body.head_x_px - pen.s * hw * 0.5
    pen.trapezoid(bx, body.head_y_px, hw * 1.12, bx, ybot, hw * 1.25, HAIR)


# ------------------------------------------------------------------------------------------
# bag and straps
# ------------------------------------------------------------------------------------------
def _bag_box(body: Body, ident: Identity) -> Optional[Tuple[float, list]]:
    """(depth, screen box) of the bag: a backpack on the back, a shoulder bag at the hip."""
    if not ident.bag:
        return None
    pen = body.pen
    c, s, P = pen.c, pen.s, pen.P
    if ident.bag_type == "backpack":
        zc = -(body.chest_depth + 0.045)
        bw_ = _proj(0.088, 0.045, c, s) * P
        bx = pen.x(0.0, zc)
        return pen.depth(0.0, zc), [bx - bw_, pen.y(body.shoulder_y + 0.025), bx + bw_,
                                    pen.y(0.46)]
    xl = body.hip_half + 0.035
    bx = pen.x(xl, 0.0)
    bw_ = _proj(0.028, 0.065, c, s) * P
    return pen.depth(xl, 0.0), [bx - bw_, pen.y(0.43), bx + bw_, pen.y(0.545)]


def _draw_bag(body: Body, ident: Identity, box):
    d, P = body.pen.d, body.pen.P
    if ident.bag_type == "backpack":
        d.rounded_rectangle(box, radius=max(1, int(0.025 * P)), fill=BAG)
        ym = box[1] + (box[3] - box[1]) * 0.42
        d.line([(box[0] + 1, ym), (box[2] - 1, ym)], fill=STRAP, width=max(1, int(0.012 * P)))
    else:
        d.rounded_rectangle(box, radius=max(1, int(0.015 * P)), fill=BAG)


def _straps(body: Body, ident: Identity):
    """Backpack straps over the chest (front) or the shoulder (side); a shoulder bag's strap."""
    if not ident.bag:
        return
    pen = body.pen
    d, c, s, P = pen.d, pen.c, pen.s, pen.P
    sh_a = body.shoulder_half
    ys = pen.y(body.shoulder_y)
    if ident.bag_type == "backpack" and c > 0.2:
        for e in (-1.0, 1.0):
            d.line([(pen.x(e * sh_a * 0.55), ys), (pen.x(e * sh_a * 0.6), pen.y(0.4))],
                   fill=STRAP, width=max(1, int(0.016 * P)))
    elif ident.bag_type == "backpack" and abs(s) > 0.7:
        t_b = body.chest_depth
        d.line([(pen.x(0.0, t_b * 0.3), ys), (pen.x(0.0, -t_b * 0.6), pen.y(0.4))],
               fill=STRAP, width=max(1, int(0.016 * P)))
    elif ident.bag_type != "backpack":
        xl = body.hip_half + 0.035
        d.line([(pen.x(-sh_a * 0.55), ys), (pen.x(xl), pen.y(0.44))], fill=STRAP,
               width=max(1, int(0.012 * P)))


# ------------------------------------------------------------------------------------------
# limbs
# ------------------------------------------------------------------------------------------
def _arm_pose(body: Body, env: Environment, side: float) -> Arm:
    """Shoulder, elbow, wrist of one arm swinging opposite to the leg of its side."""
    pen = body.pen
    arm_w = body.arm_width
    xl = side * (body.shoulder_half - arm_w * 0.3)
    phi = 0.42 * body.swing * math.sin(env.phase + (math.pi if side > 0 else 0.0))
    y0 = body.shoulder_y + 0.018
    ze, ye = 0.165 * math.sin(phi), y0 + 0.165 * math.cos(phi)
    phi2 = phi + 0.12 + 0.5 * max(phi, 0.0)
    zw, yw = ze + 0.155 * math.sin(phi2), ye + 0.155 * math.cos(phi2)
    xo = side * 0.014
    return Arm(depth=pen.depth(xl, (ze + zw) * 0.5) + 0.03,
               shoulder=(pen.x(xl, 0.0), pen.y(y0)),
               elbow=(pen.x(xl + xo, ze), pen.y(ye)),
               wrist=(pen.x(xl + xo * 1.3, zw), pen.y(yw)))


def _draw_arm(body: Body, ident: Identity, arm: Arm):
    pen = body.pen
    arm_w = body.arm_width
    cloth = _near_or_far(SLEEVE, UPPER_FAR, arm.depth)
    skin = _near_or_far(SKIN, SKIN_FAR, arm.depth)
    if ident.short_sleeve:
        mid = _between(arm.shoulder, arm.elbow, 0.55)
        pen.limb(mid, arm.elbow, arm_w * 0.8, skin)
        pen.limb(arm.elbow, arm.wrist, arm_w * 0.75, skin)
        pen.limb(arm.shoulder, mid, arm_w * 1.1, cloth)
    else:
        pen.limb(arm.elbow, arm.wrist, arm_w * 0.92, cloth)
        pen.limb(arm.shoulder, arm.elbow, arm_w, cloth)
    P = pen.P
    pen.ellipse(arm.wrist[0], arm.wrist[1] + 0.012 * P, arm_w * 0.5 * P, arm_w * 0.62 * P, skin)


def _leg_pose(body: Body, ident: Identity, env: Environment, side: float) -> Leg:
    """Hip, knee, ankle of one leg; the knee bends only backwards."""
    pen = body.pen
    xl = side * 0.05 * ident.build
    psi = 0.36 * body.swing * math.sin(env.phase + (0.0 if side > 0 else math.pi))
    zk, yk = 0.225 * math.sin(psi), HIP_Y + 0.225 * math.cos(psi)
    psi2 = psi - 0.7 * max(0.0, -psi)
    za, ya = zk + 0.225 * math.sin(psi2), yk + 0.225 * math.cos(psi2)
    return Leg(depth=pen.depth(xl, zk), lateral=xl, hip=(pen.x(xl, 0.0), pen.y(HIP_Y)),
               knee=(pen.x(xl, zk), pen.y(yk)), ankle=(pen.x(xl, za), pen.y(ya)),
               ankle_forward=za, ankle_y=ya)


def _draw_leg(body: Body, ident: Identity, leg: Leg):
    """Trouser leg (bare leg under a dress), shoe and boot shaft."""
    pen = body.pen
    leg_w = body.leg_width
    cloth = _near_or_far(LOWER, LOWER_FAR, leg.depth)
    skin = _near_or_far(SKIN, SKIN_FAR, leg.depth)
    shoe = _near_or_far(SHOES, SHOES_FAR, leg.depth)
    if ident.dress:
        pen.limb(leg.hip, leg.knee, leg_w * 0.72, skin)
        pen.limb(leg.knee, leg.ankle, leg_w * 0.6, skin)
    else:
        pen.limb(leg.knee, leg.ankle, leg_w * 0.86, cloth)
        pen.limb(leg.hip, leg.knee, leg_w * 1.05, cloth)
    # the shoe sits slightly forward of the ankle
    fx = pen.x(leg.lateral, leg.ankle_forward + 0.02)
    fy = pen.y(min(leg.ankle_y, 0.975) + 0.012)
    rx = max(1.0, _proj(0.032, 0.055, pen.c, pen.s) * pen.P)
    pen.ellipse(fx, fy, rx, 0.022 * pen.P, shoe)
    if ident.boots:
        pen.limb(leg.ankle, _between(leg.ankle, leg.knee, 0.5), leg_w * 0.95, shoe)


# ------------------------------------------------------------------------------------------
# trunk
# ------------------------------------------------------------------------------------------
def _pelvis(body: Body, ident: Identity, env: Environment):
    """Top of the lower garment: a dress down to the knees, else the trousers' seat."""
    pen = body.pen
    tx, ww = body.torso_x_px, body.waist_half_px
    y_waist = pen.y(WAIST_Y - 0.02)
    if ident.dress:
        b, c, s, P = ident.build, pen.c, pen.s, pen.P
        hem = 0.75
        hem_w = _proj(0.175 * b, 0.13 * b, c, s) * P
        sway = 0.02 * body.swing * math.sin(env.phase) * P * s
        pen.poly([(tx - ww, y_waist), (tx + ww, y_waist),
                  (tx + hem_w + sway, pen.y(hem)), (tx - hem_w + sway, pen.y(hem))], LOWER)
    else:
        pen.trapezoid(tx, y_waist, ww, tx, pen.y(HIP_Y + 0.04), body.hip_half_px, LOWER)


def _torso(body: Body, ident: Identity):
    """The upper garment, and a chest print when the chest faces the camera."""
    pen = body.pen
    P = pen.P
    tx, sw, ww = body.torso_x_px, body.shoulder_half_px, body.waist_half_px
    bot_w = body.hip_half_px * 1.04 if ident.top_length == "long" else ww * 1.02
    ys = pen.y(body.shoulder_y)
    pen.poly([(tx - sw * 0.62, ys - 0.014 * P), (tx + sw * 0.62, ys - 0.014 * P),
              (tx + sw, ys + 0.04 * P), (tx + ww, pen.y(WAIST_Y - 0.03)),
              (tx + bot_w, pen.y(body.top_end)), (tx - bot_w, pen.y(body.top_end)),
              (tx - ww, pen.y(WAIST_Y - 0.03)), (tx - sw, ys + 0.04 * P)], UPPER)
    if ident.texture == "print" and pen.c > 0.3:
        pw_ = sw * 0.38
        pen.trapezoid(tx, pen.y(body.shoulder_y + 0.06), pw_, tx,
                      pen.y(body.shoulder_y + 0.14), pw_, UPPER_ALT)


# ------------------------------------------------------------------------------------------
# head
# ------------------------------------------------------------------------------------------
def _neck_and_head(body: Body):
    """Neck, and the head as hair; the face is drawn over it where visible."""
    pen = body.pen
    P = pen.P
    hx, hy, hw, hr = body.head_x_px, body.head_y_px, body.head_half_width_px, body.head_radius_px
    neck_w = 0.024 * P
    nx = (hx + body.torso_x_px) * 0.5
    ys = pen.y(body.shoulder_y)
    pen.d.rectangle([nx - neck_w, hy + hr * 0.5, nx + neck_w,
                     ys + (0.012 * P if pen.c > 0.3 else 0)], fill=SKIN)
    pen.ellipse(hx, hy - 0.008 * P, hw * 1.06, hr * 1.02, HAIR)


def _face(body: Body, ident: Identity):
    """Face, back hair in oblique views, eyes, glasses, mouth."""
    pen = body.pen
    d, c, s, P = pen.d, pen.c, pen.s, pen.P
    hx, hy, hw, hr = body.head_x_px, body.head_y_px, body.head_half_width_px, body.head_radius_px
    shrink = 0.97 if c > 0.3 else 0.8
    fx = hx + s * hw * 0.3
    pen.ellipse(fx, hy + 0.009 * P, hw * shrink, hr * 0.93, SKIN)
    if c < 0.7:  # hair over the back of the head in oblique/side views
        pen.ellipse(hx - s * hw * 0.6, hy - 0.004 * P, hw * 0.5, hr * 0.92, HAIR)
    ey = hy + 0.006 * P
    er = max(0.5, 0.006 * P)
    eyes = []
    if c > 0.3:
        for e in (-1.0, 1.0):
            eyes.append(fx + e * hw * 0.42 * c + s * hw * 0.2)
    elif abs(s) > 0.5:
        eyes.append(hx + s * hw * 0.62)
    for ex in eyes:
        d.rectangle([ex - er, ey - er, ex + er, ey + er], fill=EYES)
    if ident.glasses and eyes:
        gr = max(1.0, 0.014 * P)
        for ex in eyes:
            d.rectangle([ex - gr, ey - gr * 0.8, ex + gr, ey + gr * 0.8], outline=GLASSES)
        if len(eyes) == 2:
            d.line([(eyes[0] + gr, ey), (eyes[1] - gr, ey)], fill=GLASSES)
        else:  # side view: temple arm towards the ear
            d.line([(eyes[0], ey), (hx - s * hw * 0.2, ey)], fill=GLASSES)
    if c > 0.3:  # mouth hint
        d.line([(fx - hw * 0.18, hy + hr * 0.5), (fx + hw * 0.18, hy + hr * 0.5)],
               fill=SKIN_FAR)


def _long_hair(body: Body):
    """Long hair down the back (back and side views), locks over the shoulders (front)."""
    if not body.long_hair:
        return
    pen = body.pen
    c, s, P = pen.c, pen.s, pen.P
    hx, hy, hw, hr = body.head_x_px, body.head_y_px, body.head_half_width_px, body.head_radius_px
    if not body.face_visible or abs(s) > 0.6:
        bx = hx - s * hw * 0.6
        hwid = hw * (1.05 if not body.face_visible else 0.55)
        ybot = pen.y(0.3 if body.female else 0.23)
        pen.trapezoid(bx, hy - hr * 0.1, hwid, bx, ybot, hwid * 1.1, HAIR)
    if c > 0.6:
        for e in (-1.0, 1.0):
            lx = hx + s * hw * 0.3 + e * hw * 1.1
            pen.trapezoid(lx, hy, 0.012 * P, lx + e * 0.01 * P, pen.y(0.25), 0.014 * P, HAIR)


def _hat(body: Body, ident: Identity):
    """A beanie, or a cap with its brim towards the facing direction."""
    pen = body.pen
    d, c, s, P = pen.d, pen.c, pen.s, pen.P
    hx, hy, hw, hr = body.head_x_px, body.head_y_px, body.head_half_width_px, body.head_radius_px
    if ident.hat_type == "beanie":
        d.chord([hx - hw * 1.14, hy - hr * 1.22, hx + hw * 1.14, hy + hr * 0.55], 180, 360,
                fill=HAT)
        d.rectangle([hx - hw * 1.14, hy - hr * 0.2, hx + hw * 1.14, hy - hr * 0.02], fill=HAT)
        return
    d.chord([hx - hw * 1.12, hy - hr * 1.15, hx + hw * 1.12, hy + hr * 0.4], 180, 360, fill=HAT)
    if body.face_visible:
        by = hy - hr * 0.12
        bl = hx + s * hw * 0.3 - hw * (1.2 * c)
        br = hx + s * hw * 1.9 + hw * (1.2 * c)
        d.ellipse([min(bl, br), by - 0.014 * P, max(bl, br), by + 0.014 * P], fill=HAT)
