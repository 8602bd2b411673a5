"""Reference ResNet-10 forward in PyTorch for resnet_test.go.

    /usr/bin/python3 resnet10_torch.py VARIANT WEIGHTS.safetensors INPUT.f32 N H W MODE OUT.f32

VARIANT "batchnorm": the bench's ResNet-10 (../../../shared/bench/reference_torch.py:
BatchNorm, symmetric padding), weights under e2hil's names (prefix "backbone.").
VARIANT "hilserl": helper2424/resnet10's modules as its modeling_resnet.py defines
them (GroupNorm(4) wrapped as .group_norm, Conv2dJax wrapping nn.Conv2d as .conv,
JAX SAME padding), loaded with load_state_dict(strict=True) under its own
tensor names, so the test also checks those names.
MODE "eval" or "train" (BatchNorm batch statistics; the running statistics
after the pass are appended to the output, in state-dict order), or "grad"
(train mode; the gradients of sum(y · LOSSW) for every weight, in state-dict
order, with LOSSW read from the file named by a ninth argument).
Reads safetensors by hand (the safetensors package is not installed).
"""
import json
import math
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_safetensors(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    header = json.loads(b[8:8 + n])
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        s, t = e["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(b[8 + n + s:8 + n + t], dtype="<f4").copy().reshape(e["shape"]))
    return out


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.norm1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(cout)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Module()
            self.shortcut.conv = nn.Conv2d(cin, cout, 1, stride, bias=False)
            self.shortcut.norm = nn.BatchNorm2d(cout)

    def forward(self, x):
        y = F.relu(self.norm1(self.conv1(x)))
        y = self.norm2(self.conv2(y))
        s = x if self.shortcut is None else self.shortcut.norm(self.shortcut.conv(x))
        return F.relu(y + s)


class BNResNet10(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedder = nn.Module()
        self.embedder.conv = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.embedder.norm = nn.BatchNorm2d(64)
        self.stages = nn.ModuleList([Block(64, 64, 1), Block(64, 128, 2), Block(128, 256, 2), Block(256, 512, 2)])

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.embedder.norm(self.embedder.conv(x))), 3, 2, 1)
        for s in self.stages:
            x = s(x)
        return x


def same_pads(n, k, s):
    total = max(0, (math.ceil(n / s) - 1) * s + k - n)
    return total // 2, total - total // 2


class Conv2dJax(nn.Module):
    def __init__(self, cin, cout, k, stride=1):
        super().__init__()
        self.k, self.s = k, stride
        self.conv = nn.Conv2d(cin, cout, k, stride, 0, bias=False)

    def forward(self, x):
        t, b = same_pads(x.shape[2], self.k, self.s)
        l, r = same_pads(x.shape[3], self.k, self.s)
        return self.conv(F.pad(x, (l, r, t, b)))


class MyGroupNorm(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.group_norm = nn.GroupNorm(4, c, 1e-5)

    def forward(self, x):
        return self.group_norm(x)


class GNBlock(nn.Module):
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = Conv2dJax(cin, cout, 3, stride)
        self.norm1 = MyGroupNorm(cout)
        self.conv2 = Conv2dJax(cout, cout, 3, 1)
        self.norm2 = MyGroupNorm(cout)
        self.shortcut = None
        if cin != cout:
            self.shortcut = nn.Sequential(Conv2dJax(cin, cout, 1, stride), MyGroupNorm(cout))

    def forward(self, x):
        y = F.relu(self.norm1(self.conv1(x)))
        y = self.norm2(self.conv2(y))
        s = x if self.shortcut is None else self.shortcut(x)
        return F.relu(y + s)


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.stages = nn.ModuleList([GNBlock(64, 64), GNBlock(64, 128, 2), GNBlock(128, 256, 2), GNBlock(256, 512, 2)])


class HILSERLResNet10(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedder = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), MyGroupNorm(64), nn.ReLU())
        self.encoder = Encoder()

    def forward(self, x):
        x = self.embedder(x)
        t, b = same_pads(x.shape[2], 3, 2)
        l, r = same_pads(x.shape[3], 3, 2)
        x = F.max_pool2d(F.pad(x, (l, r, t, b), value=-float("inf")), 3, 2, 0)
        for s in self.encoder.stages:
            x = s(x)
        return x


def main():
    variant, weights, inp, n, h, w, mode, out = sys.argv[1:9]
    n, h, w = int(n), int(h), int(w)
    sd = read_safetensors(weights)
    if variant == "batchnorm":
        m = BNResNet10()
        sd = {k[len("backbone."):]: v for k, v in sd.items()}
        sd.update({k: v for k, v in m.state_dict().items() if k.endswith("num_batches_tracked")})
    else:
        m = HILSERLResNet10()
    m.load_state_dict(sd, strict=True)
    m.train(mode != "eval")
    x = torch.from_numpy(np.fromfile(inp, dtype="<f4").reshape(n, 3, h, w))
    if mode == "grad":
        y = m(x)
        lw = torch.from_numpy(np.fromfile(sys.argv[9], dtype="<f4").reshape(y.shape))
        (y * lw).sum().backward()
        np.concatenate([p.grad.numpy().ravel() for p in m.parameters()]).astype("<f4").tofile(out)
        return
    with torch.no_grad():
        y = m(x).numpy().ravel()
    parts = [y]
    if mode == "train":
        for k, v in m.state_dict().items():
            if k.endswith("running_mean") or k.endswith("running_var"):
                parts.append(v.numpy().ravel())
    np.concatenate(parts).astype("<f4").tofile(out)


if __name__ == "__main__":
    main()
