"""Writes golden.json: torchvision-style crop + resize outputs computed by
PyTorch (F.interpolate bilinear, antialias=True, align_corners=False on a float
CHW tensor in [0, 1], then clamp), the reference for preprocess_test.go.

    /usr/bin/python3 golden.py > golden.json   # python3-torch (Debian, 1.13)
"""
import json

import torch
import torch.nn.functional as F


def frame(h, w):
    # The same deterministic pattern as preprocess_test.go's frame().
    t = torch.zeros(h, w, 3, dtype=torch.uint8)
    for y in range(h):
        for x in range(w):
            for c in range(3):
                t[y, x, c] = ((y * 31 + x * 17 + c * 89) ^ (x * y)) & 255
    return t


CASES = [
    # name, src h, w, crop (top, left, height, width) or None, resize (h, w) or None, normalise
    ("down_crop", 60, 80, (5, 7, 50, 61), (16, 20), False),
    ("down_plain", 48, 64, None, (20, 11), True),
    ("up", 12, 9, None, (30, 17), False),
    ("mixed", 40, 10, (2, 1, 35, 9), (12, 25), True),
    ("crop_only", 20, 30, (3, 4, 10, 12), None, False),
]
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]

out = []
for name, h, w, crop, size, norm in CASES:
    x = frame(h, w).permute(2, 0, 1).float() / 255
    if crop:
        t, l, ch, cw = crop
        x = x[:, t:t + ch, l:l + cw]
    if size:
        x = F.interpolate(x[None], size=size, mode="bilinear", antialias=True, align_corners=False)[0]
    x = x.clamp(0, 1)
    if norm:
        x = (x - torch.tensor(MEAN)[:, None, None]) / torch.tensor(STD)[:, None, None]
    out.append({"name": name, "h": h, "w": w, "crop": crop, "size": size, "normalize": norm,
                "out": [round(float(v), 7) for v in x.flatten()]})
print(json.dumps({"torch": torch.__version__, "cases": out}))
