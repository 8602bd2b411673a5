"""Times the ResNet-10 convolutions of BenchmarkConv2d (conv_test.go) in
PyTorch on this CPU, for a same-run ratio: median ms of forward and of
forward+backward (grad of w, and of x except for the stem), batch 16,
the faster of 1 and 2 intra-op threads.

    /usr/bin/python3 models/testdata/conv_torch.py [--quick]
"""
import json
import statistics
import sys
import time

import torch

CONVS = [  # name, n, c, h, o, k, s, p, dx — as resnet10Convs in conv_test.go
    ("stem7x7s2_3to64_128", 16, 3, 128, 64, 7, 2, 3, False),
    ("3x3_64to64_32", 16, 64, 32, 64, 3, 1, 1, True),
    ("3x3s2_64to128_32", 16, 64, 32, 128, 3, 2, 1, True),
    ("3x3_128to128_16", 16, 128, 16, 128, 3, 1, 1, True),
    ("1x1s2_64to128_32", 16, 64, 32, 128, 1, 2, 0, True),
    ("3x3s2_128to256_16", 16, 128, 16, 256, 3, 2, 1, True),
    ("3x3_256to256_8", 16, 256, 8, 256, 3, 1, 1, True),
    ("3x3s2_256to512_8", 16, 256, 8, 512, 3, 2, 1, True),
    ("3x3_512to512_4", 16, 512, 4, 512, 3, 1, 1, True),
]


def median_ms(f, reps):
    f()
    f()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        f()
        ts.append((time.perf_counter() - t) * 1e3)
    return statistics.median(ts)


def main():
    reps = 3 if "--quick" in sys.argv else 10
    torch.manual_seed(0)
    out = {}
    for name, n, c, h, o, k, s, p, dx in CONVS:
        x = torch.randn(n, c, h, h, requires_grad=dx)
        w = torch.randn(o, c, k, k, requires_grad=True)
        dy = torch.randn_like(torch.nn.functional.conv2d(x, w, stride=s, padding=p))

        def fwd():
            with torch.no_grad():
                torch.nn.functional.conv2d(x, w, stride=s, padding=p)

        def fwd_bwd():
            y = torch.nn.functional.conv2d(x, w, stride=s, padding=p)
            y.backward(dy)

        for case, f in (("Forward", fwd), ("ForwardBackward", fwd_bwd)):
            best = None
            for threads in (1, 2):
                torch.set_num_threads(threads)
                ms = median_ms(f, reps)
                best = ms if best is None else min(best, ms)
            out[f"{name}/{case}"] = round(best, 3)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
