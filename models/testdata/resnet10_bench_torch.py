#!/usr/bin/env python3
"""PyTorch twin of models' BenchmarkResNet10 (conv_bench_test.go): the ResNet-10
trunk of ../../../shared/bench on N=32 images 3x128x128, eval forward and train
forward+backward, and each distinct convolution alone, at 1 and 2 threads.

    /usr/bin/python3 models/testdata/resnet10_bench_torch.py [--reps R] [--threads 1,2] [--only REGEXP] [--stat min]

Prints one line per case: name, then at each thread count the median wall ms
and the median CPU ms (all threads: at 1 thread, the wall time on an idle core,
which a shared machine's wall time is not).
"""
import argparse, re, statistics, time

import torch
import torch.nn as nn
import torch.nn.functional as F

N = 32
CONVS = [  # name, cin, hw, cout, k, s, p, input gradient
    ("stem7x7s2_3to64_128", 3, 128, 64, 7, 2, 3, False),
    ("3x3_64to64_32", 64, 32, 64, 3, 1, 1, True),
    ("3x3s2_64to128_32", 64, 32, 128, 3, 2, 1, True),
    ("3x3_128to128_16", 128, 16, 128, 3, 1, 1, True),
    ("1x1s2_64to128_32", 64, 32, 128, 1, 2, 0, True),
    ("3x3s2_128to256_16", 128, 16, 256, 3, 2, 1, True),
    ("3x3_256to256_8", 256, 8, 256, 3, 1, 1, True),
    ("3x3s2_256to512_8", 256, 8, 512, 3, 2, 1, True),
    ("3x3_512to512_4", 512, 4, 512, 3, 1, 1, True),
]


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.b1(self.c1(x)))
        y = self.b2(self.c2(y))
        return F.relu(y + (x if self.down is None else self.down(x)))


def trunk():
    return nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1),
                         Block(64, 64, 1), Block(64, 128, 2), Block(128, 256, 2), Block(256, 512, 2))


def time_ms(fn, reps, stat, warm=2):
    """Wall ms and CPU ms (all threads) of fn: median or min over reps."""
    for _ in range(warm):
        fn()
    ts, cs = [], []
    for _ in range(reps):
        t, c = time.perf_counter(), time.process_time()
        fn()
        ts.append((time.perf_counter() - t) * 1e3)
        cs.append((time.process_time() - c) * 1e3)
    agg = min if stat == "min" else statistics.median
    return agg(ts), agg(cs)


def cases():
    torch.manual_seed(0)
    x = torch.rand(N, 3, 128, 128)
    ev = trunk().eval()

    def eval_step():
        with torch.no_grad():
            ev(x)
    yield "Eval", eval_step
    tr = trunk().train()
    dy = torch.randn(N, 512, 4, 4)

    def train_step():
        for p in tr.parameters():
            p.grad = None
        tr(x).backward(dy)
    yield "Train", train_step
    for name, cin, hw, cout, k, s, p, dx in CONVS:
        conv = nn.Conv2d(cin, cout, k, s, p, bias=False)
        xi = torch.randn(N, cin, hw, hw)

        def fwd(conv=conv, xi=xi):
            with torch.no_grad():
                conv(xi)
        yield f"Layer/{name}/Forward", fwd
        xg = xi.clone().requires_grad_(dx)
        g = torch.randn(conv(xi).shape)

        def fb(conv=conv, xg=xg, g=g):
            conv.weight.grad = None
            xg.grad = None
            conv(xg).backward(g)
        yield f"Layer/{name}/ForwardBackward", fb


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--only", default="", help="a regular expression the case name must match")
    ap.add_argument("--stat", default="median", choices=["median", "min"],
                    help="min is steadier than the median on a shared, overloaded machine")
    a = ap.parse_args()
    threads = [int(t) for t in a.threads.split(",")]
    for name, fn in cases():
        if not re.search(a.only, name):
            continue
        ms = []
        for t in threads:
            torch.set_num_threads(t)
            ms.append(time_ms(fn, a.reps, a.stat))
        print(f"{name:45s} " + " ".join(f"{t}T {m:8.2f} ms {c:8.2f} cpu-ms" for t, (m, c) in zip(threads, ms)), flush=True)
