"""The part-label map a SynthPerson image is drawn into before it gets colours: one uint8 label
per pixel. Labels 1..199 are the pedestrian, so the foreground mask is a lookup; the ground shadow
and the occluders share the map without being foreground. A ``*_FAR`` label is the far-side copy of
a part, coloured darker."""
import numpy as np

BG, SKIN, SKIN_FAR, HAIR, UPPER, UPPER_ALT, UPPER_FAR, LOWER, LOWER_FAR = range(9)
SHOES, SHOES_FAR, HAT, BAG, STRAP, EYES, GLASSES, SLEEVE = range(9, 17)
SHADOW = 200
OCC1, OCC2, OCC3 = 240, 241, 242
PART_NAMES = {BG: "background", SKIN: "skin", SKIN_FAR: "skin", HAIR: "hair", UPPER: "upper",
              UPPER_ALT: "upper", UPPER_FAR: "upper", LOWER: "lower", LOWER_FAR: "lower",
              SHOES: "shoes", SHOES_FAR: "shoes", HAT: "hat", BAG: "bag", STRAP: "bag",
              EYES: "skin", GLASSES: "glasses", SLEEVE: "upper", SHADOW: "background",
              OCC1: "occluder", OCC2: "occluder", OCC3: "occluder"}

IS_FOREGROUND = np.zeros(256, dtype=bool)
IS_FOREGROUND[1:SHADOW] = True
IS_OPAQUE = IS_FOREGROUND.copy()  # what hides the background
IS_OPAQUE[OCC1:OCC3 + 1] = True
