"""SynthPerson domains: distributions of environment, cameras, backgrounds and people.

Environment vocabulary (FineGPR order; file names use the 1-based index):

* weather ``w``: Sunny, Clouds, Overcast, Foggy, Neutral, Blizzard, Snowlight
* illumination ``l``: Midnight, Dawn, Forenoon, Noon, Afternoon, Dusk, Night
* scene ``p``: 1 brick wall, 2 office windows, 3 street, 4 shop fronts, 5 plaza (urban);
  6 park, 7 forest, 8 field, 9 mountain (wild)
* camera ``c``: 01..36. In ``source`` camera c looks at the person from (c-1)*10 degrees
  (c01 = 0 deg = front); target domains use a few fixed cameras, each with its own base viewpoints.

Viewpoint angle (degrees): 0 = the person faces the camera (front), 90 = walks towards the image
right ("right"), 180 = walks away (back), 270 = walks towards the image left ("left").

Domains (every table below is a field of the :class:`Domain`; ``describe()`` prints them):

* ``source`` -- the FineGPR role: 36 cameras at 10 deg steps, every weather, illumination and scene
  uniformly, sharp full-resolution cameras with a neutral colour, balanced backgrounds. All train.
* ``campus`` -- daylight (Sunny/Clouds/Neutral x Forenoon/Noon/Afternoon), urban scenes (brick,
  windows, shops, plaza), sharp high-resolution saturated cameras, red brick / sandstone / lawn
  palette; more teenagers, bags and short sleeves.
* ``winter`` -- Blizzard/Snowlight/Foggy/Overcast, wild scenes (park, forest, field, mountain)
  under snow, cold blue colour cast, low contrast and saturation, some lower-resolution cameras;
  more boots, hats and long tops, few short sleeves or dresses.
* ``night`` -- Night/Midnight/Dusk in streets and shop fronts, dark palette with lit windows and
  street lamps, strong warm (sodium-lamp) cast, low-resolution blurry noisy cameras, frequent
  occlusion.

Identities of different domains are different people: the identity random stream is seeded with
the domain's ``salt`` (see ``generate.identity_rng``).

Looks (``with_look``, DATASETS.SYNTH.LOOK): ``rendered`` is the domains as above; ``photo`` gives
every camera of a domain the low-level statistics of real Re-ID photos (same people, environments
and draws, only the camera differs): see ``PHOTO_LOOK``.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Dict, Mapping, Optional, Tuple

from ..finegpr_names import ILLUMINATIONS, WEATHERS

SCENES = ("brick wall", "office windows", "street", "shop fronts", "plaza",
          "park", "forest", "field", "mountain")
URBAN_SCENES = (1, 2, 3, 4, 5)
WILD_SCENES = (6, 7, 8, 9)
VIEWPOINTS = ("front", "right", "back", "left")

RGB = Tuple[int, int, int]


def viewpoint_name(angle_deg: float) -> str:
    """front / right / back / left: the nearest of 0, 90, 180, 270 degrees."""
    return VIEWPOINTS[int(((angle_deg % 360.0) + 45.0) // 90.0) % 4]


@dataclass(frozen=True)
class Camera:
    """A camera: where it looks from and how it degrades the picture."""

    cid: int                                  # 1..36 (the ``c`` of the file name)
    views: Tuple[float, ...]                  # base viewpoint angles; one is drawn per image
    view_jitter: float = 5.0                  # +- uniform jitter (deg) around the base angle
    res: float = 1.0                          # render rows = res x max(H, 128), upscaled to H
    blur: float = 0.0                         # gaussian blur radius (px at 128 rows; scaled)
    noise: float = 2.0                        # sensor noise std (0..255 scale)
    cast: Tuple[float, float, float] = (1.0, 1.0, 1.0)   # per-channel gain (white balance)
    contrast: float = 1.0
    saturation: float = 1.0
    zoom: Tuple[float, float] = (0.92, 1.04)  # person height scale range (detector box looseness)
    offset: float = 0.05                      # max horizontal person offset (fraction of width)
    scenes: Optional[Tuple[int, ...]] = None  # scenes this camera sees (None: domain table)


@dataclass(frozen=True)
class Palette:
    """Colours of the procedural backgrounds of a domain."""

    sky: Tuple[RGB, RGB] = ((118, 168, 224), (204, 222, 240))   # top, horizon
    walls: Tuple[RGB, ...] = ((150, 72, 56), (188, 178, 160), (122, 122, 128), (208, 198, 178))
    mortar: RGB = (190, 186, 176)
    windows: Tuple[RGB, ...] = ((70, 92, 112), (92, 122, 142), (60, 70, 84))
    lit_windows: float = 0.0                  # fraction of windows lit (night)
    lit: RGB = (240, 200, 110)
    pavement: Tuple[RGB, ...] = ((150, 146, 140), (170, 162, 150), (128, 126, 124))
    road: RGB = (70, 70, 76)
    grass: Tuple[RGB, ...] = ((82, 140, 62), (104, 150, 70), (120, 140, 70))
    foliage: Tuple[RGB, ...] = ((42, 100, 42), (62, 120, 52), (90, 110, 40))
    trunk: RGB = (82, 62, 42)
    dirt: RGB = (142, 112, 80)
    mountain: Tuple[RGB, ...] = ((112, 112, 124), (96, 104, 96))
    awnings: Tuple[RGB, ...] = ((180, 40, 40), (40, 110, 60), (40, 70, 150), (210, 160, 40))
    snow: float = 0.0                         # snow cover of ground / foliage / roofs (0..1)
    lamps: bool = False                       # street-lamp glows
    texture: float = 10.0                     # per-pixel texture noise amplitude


def _norm(t):
    s = float(sum(t))
    return tuple(float(v) / s for v in t)


@dataclass(frozen=True)
class Domain:
    """One SynthPerson domain (see the module docstring for the four built-in ones)."""

    name: str
    description: str
    weather_probs: Tuple[float, ...]          # over WEATHERS
    illumination_probs: Tuple[float, ...]     # over ILLUMINATIONS
    scene_probs: Tuple[float, ...]            # over SCENES (1..9)
    cameras: Tuple[Camera, ...]
    occlusion_prob: float = 0.1               # pole / car / bin / sign in front of the person
    palette: Palette = field(default_factory=Palette)
    identity_shift: Mapping[str, object] = field(default_factory=dict)  # DEFAULT_PROBS overrides
    salt: int = 0                             # identity/background seed salt (distinct per domain)
    train_fraction: float = 0.5               # default fraction of identities used for training
    bg_tiles: int = 3                         # background tiles per scene (random crops of them)

    def __post_init__(self):
        for nm, t, n in (("weather_probs", self.weather_probs, 7),
                         ("illumination_probs", self.illumination_probs, 7),
                         ("scene_probs", self.scene_probs, 9)):
            if len(t) != n or sum(t) <= 0 or min(t) < 0:
                raise ValueError(f"domain {self.name}: {nm} needs {n} non-negative weights")
            object.__setattr__(self, nm, _norm(t))
        ids = [c.cid for c in self.cameras]
        if not ids or len(set(ids)) != len(ids) or not all(1 <= c <= 36 for c in ids):
            raise ValueError(f"domain {self.name}: camera ids must be unique and in 1..36")

    def camera(self, cid: int) -> Camera:
        for c in self.cameras:
            if c.cid == cid:
                return c
        raise KeyError(f"domain {self.name} has no camera c{cid:02d}")

    def describe(self) -> str:
        fmt = lambda names, p: ", ".join(f"{n} {v:.2f}" for n, v in zip(names, p) if v > 0)
        lines = [f"{self.name}: {self.description}",
                 f"  weather: {fmt(WEATHERS, self.weather_probs)}",
                 f"  illumination: {fmt(ILLUMINATIONS, self.illumination_probs)}",
                 f"  scenes: {fmt(SCENES, self.scene_probs)}",
                 f"  occlusion: {self.occlusion_prob:.2f}; "
                 f"identity shift: {dict(self.identity_shift)}",
                 f"  cameras ({len(self.cameras)}):"]
        if len(self.cameras) > 8:
            c = self.cameras[0]
            lines.append(f"    c01..c{self.cameras[-1].cid:02d} at 10 deg steps, res {c.res}, "
                         f"blur {c.blur}, noise {c.noise}, neutral colour")
        else:
            for c in self.cameras:
                lines.append(f"    c{c.cid:02d}: views {c.views} +-{c.view_jitter}, res {c.res}, "
                             f"blur {c.blur}, noise {c.noise}, cast {c.cast}, contrast "
                             f"{c.contrast}, saturation {c.saturation}, scenes {c.scenes}")
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# built-in domains
# ---------------------------------------------------------------------------------------------
SOURCE = Domain(
    name="source",
    description="FineGPR role: 36 cameras at 10 deg steps, all weathers/illuminations/scenes "
                "uniformly, sharp neutral cameras",
    weather_probs=(1,) * 7,
    illumination_probs=(1,) * 7,
    scene_probs=(1,) * 9,
    cameras=tuple(Camera(cid=c, views=((c - 1) * 10.0,), view_jitter=5.0, noise=2.0)
                  for c in range(1, 37)),
    occlusion_prob=0.08,
    palette=Palette(),
    salt=1001,
    train_fraction=1.0,
)

CAMPUS = Domain(
    name="campus",
    description="daylight sunny/cloudy campus: urban scenes, sharp high-res saturated cameras",
    weather_probs=(0.5, 0.35, 0, 0, 0.15, 0, 0),
    illumination_probs=(0, 0, 0.3, 0.35, 0.35, 0, 0),
    scene_probs=(0.25, 0.2, 0.05, 0.2, 0.2, 0.1, 0, 0, 0),
    cameras=(
        Camera(2, views=(10.0, 190.0), view_jitter=20, blur=0.0, noise=1.5,
               cast=(1.03, 1.0, 0.96), contrast=1.1, saturation=1.15, scenes=(1, 4)),
        Camera(8, views=(70.0, 250.0), view_jitter=20, blur=0.2, noise=1.5,
               cast=(1.0, 1.02, 1.0), contrast=1.05, saturation=1.1, scenes=(2, 5)),
        Camera(14, views=(130.0, 310.0), view_jitter=20, blur=0.0, noise=1.5,
               cast=(0.98, 1.0, 1.04), contrast=1.1, saturation=1.2, scenes=(5, 6)),
        Camera(24, views=(230.0, 50.0), view_jitter=20, blur=0.3, noise=2.0,
               cast=(1.05, 1.01, 0.95), contrast=1.05, saturation=1.1, scenes=(1, 2)),
        Camera(30, views=(290.0, 110.0), view_jitter=20, blur=0.0, noise=1.5,
               cast=(1.0, 1.0, 1.0), contrast=1.15, saturation=1.2, scenes=(4, 5)),
    ),
    occlusion_prob=0.12,
    palette=Palette(
        sky=((92, 150, 230), (190, 215, 245)),
        walls=((172, 76, 56), (204, 172, 130), (226, 216, 196), (160, 90, 70)),
        mortar=(210, 200, 186),
        windows=((60, 100, 140), (84, 130, 170), (50, 80, 110)),
        pavement=((196, 190, 178), (180, 176, 170), (210, 200, 184)),
        grass=((70, 164, 60), (88, 176, 70)),
        foliage=((40, 120, 40), (60, 140, 50)),
        texture=8.0),
    identity_shift={"age": (0.45, 0.5, 0.05), "bag": 0.7, "backpack": 0.75,
                    "short_sleeve": 0.62, "boots": 0.05, "hat": 0.15},
    salt=2002,
)

WINTER = Domain(
    name="winter",
    description="snowy/foggy wild scenes, cold cast, low contrast, some low-res cameras",
    weather_probs=(0, 0, 0.1, 0.25, 0, 0.3, 0.35),
    illumination_probs=(0, 0.2, 0.25, 0.2, 0.2, 0.15, 0),
    scene_probs=(0, 0, 0, 0, 0, 0.2, 0.3, 0.25, 0.25),
    cameras=(
        Camera(4, views=(30.0, 210.0), view_jitter=20, res=0.75, blur=0.5, noise=3.0,
               cast=(0.9, 0.97, 1.1), contrast=0.9, saturation=0.8, scenes=(6, 7)),
        Camera(12, views=(110.0, 290.0), view_jitter=20, res=0.75, blur=0.4, noise=3.0,
               cast=(0.88, 0.96, 1.12), contrast=0.88, saturation=0.78, scenes=(7, 8)),
        Camera(17, views=(160.0, 340.0), view_jitter=20, res=1.0, blur=0.3, noise=2.5,
               cast=(0.92, 0.98, 1.08), contrast=0.92, saturation=0.82, scenes=(8, 9)),
        Camera(33, views=(320.0, 140.0), view_jitter=20, res=0.6, blur=0.6, noise=3.5,
               cast=(0.86, 0.95, 1.14), contrast=0.86, saturation=0.76, scenes=(9, 6)),
    ),
    occlusion_prob=0.1,
    palette=Palette(
        sky=((176, 186, 204), (220, 224, 232)),
        walls=((150, 150, 156), (170, 166, 160)),
        mortar=(200, 200, 204),
        pavement=((200, 204, 210), (190, 194, 202)),
        grass=((226, 232, 240), (214, 222, 232), (200, 210, 222)),
        foliage=((36, 66, 52), (50, 76, 60), (70, 80, 70)),
        trunk=(60, 50, 44),
        dirt=(180, 180, 186),
        mountain=((132, 142, 164), (150, 156, 176)),
        snow=0.8,
        texture=6.0),
    identity_shift={"boots": 0.55, "hat": 0.55, "long_top": 0.8, "short_sleeve": 0.08,
                    "dress_female": 0.1, "light_shoes": 0.25},
    salt=3003,
)

NIGHT = Domain(
    name="night",
    description="night-time streets: lamps and lit windows, strong warm cast, low-res blurry "
                "noisy cameras, frequent occlusion",
    weather_probs=(0, 0.25, 0.2, 0.1, 0.45, 0, 0),
    illumination_probs=(0.3, 0, 0, 0, 0, 0.25, 0.45),
    scene_probs=(0.15, 0.2, 0.3, 0.25, 0.1, 0, 0, 0, 0),
    cameras=(
        Camera(6, views=(50.0, 230.0), view_jitter=20, res=0.5, blur=0.8, noise=7.0,
               cast=(1.18, 0.98, 0.72), contrast=0.85, saturation=0.8, scenes=(3, 4)),
        Camera(11, views=(100.0, 280.0), view_jitter=20, res=0.45, blur=1.0, noise=8.0,
               cast=(1.14, 1.0, 0.78), contrast=0.85, saturation=0.75, scenes=(2, 3)),
        Camera(21, views=(200.0, 20.0), view_jitter=20, res=0.55, blur=0.7, noise=6.0,
               cast=(1.2, 0.96, 0.7), contrast=0.9, saturation=0.8, scenes=(1, 4)),
        Camera(27, views=(260.0, 80.0), view_jitter=20, res=0.5, blur=0.9, noise=7.0,
               cast=(1.1, 1.02, 0.8), contrast=0.85, saturation=0.8, scenes=(3, 5)),
        Camera(35, views=(340.0, 160.0), view_jitter=20, res=0.4, blur=1.1, noise=9.0,
               cast=(1.16, 0.98, 0.74), contrast=0.8, saturation=0.75, scenes=(2, 4)),
    ),
    occlusion_prob=0.25,
    palette=Palette(
        sky=((10, 12, 30), (36, 34, 56)),
        walls=((62, 50, 48), (48, 48, 58), (70, 62, 54)),
        mortar=(80, 74, 70),
        windows=((26, 30, 40), (34, 38, 50)),
        lit_windows=0.5,
        lit=(250, 206, 120),
        pavement=((66, 62, 60), (56, 54, 56)),
        road=(32, 32, 38),
        grass=((24, 44, 28),),
        foliage=((16, 30, 20),),
        awnings=((120, 30, 30), (30, 70, 40), (40, 50, 100)),
        lamps=True,
        texture=6.0),
    identity_shift={"hat": 0.3, "short_sleeve": 0.3, "long_top": 0.6},
    salt=4004,
)

DOMAINS: Dict[str, Domain] = {d.name: d for d in (SOURCE, CAMPUS, WINTER, NIGHT)}


def get_domain(name: str) -> Domain:
    try:
        return DOMAINS[name]
    except KeyError:
        raise KeyError(f"unknown SynthPerson domain '{name}'; known: {sorted(DOMAINS)}") from None


LOOKS = ("rendered", "photo")  # DATASETS.SYNTH.LOOK
# Camera changes that bring the source domain's statistics (tools/image_statistics.py, 300 images at
# 64x128: brightness / contrast / saturation / sharpness, and the pedestrian's share of the crop's
# height) from 0.403 / 0.146 / 0.286 / 0.201 / 0.79 to 0.398 / 0.177 / 0.162 / 0.099 / 0.90, near
# DukeMTMC-reID's training photos (0.446 / 0.195 / 0.166 / 0.093; a detector's box is the person's):
# real photos are far less saturated, softer, more contrasted and cropped tighter than the renderer.
# Matched on a training set's photos, never on a test set.
PHOTO_LOOK = {"saturation": 0.25, "contrast": 1.5, "blur": 0.65, "zoom": 1.15}


def with_look(domain: Domain, look: str) -> Domain:
    """``domain`` as seen through the cameras of ``look`` (one of ``LOOKS``); same name and salt,
    so the same identities and environments are drawn."""
    if look == "rendered":
        return domain
    if look != "photo":
        raise ValueError(f"unknown SynthPerson look '{look}'; known: {list(LOOKS)}")
    k = PHOTO_LOOK
    cameras = tuple(replace(c, saturation=c.saturation * k["saturation"],
                            contrast=c.contrast * k["contrast"], blur=c.blur + k["blur"],
                            zoom=(c.zoom[0] * k["zoom"], c.zoom[1] * k["zoom"]))
                    for c in domain.cameras)
    return replace(domain, cameras=cameras, description=domain.description + "; photo look")
