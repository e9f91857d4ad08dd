#!/usr/bin/env python3
"""The PyTorch side of the cuda backend's benchmark (run by native/cuda/check-gpu.sh on a GPU).

The `mlp` shape (256 -> 1024 -> 1024 -> 16, ReLU between) as a torch.nn.Linear stack in
FP16 on the GPU, timed at batch 1, 64, 256 and 1024 doing the same work per batch as
Nereid's executor: an FP32 host input copied in and converted, the three layers, and the
FP32 output copied back to the host. Writes the weights it used (float32, per layer:
int32 out, int32 in, weight [out, in], bias [out]) so that the Nereid side runs the same
numbers, and prints one JSON line per batch size.

    python3 bench/cuda/pytorch-mlp-bench.py --weights /tmp/mlp-weights.bin
"""
import argparse
import json
import struct
import time

import torch


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--weights", required=True, help="where to write the weights for the Nereid side")
    args = parser.parse_args()

    torch.manual_seed(0)
    layers = [torch.nn.Linear(256, 1024), torch.nn.Linear(1024, 1024), torch.nn.Linear(1024, 16)]
    with open(args.weights, "wb") as f:
        for layer in layers:
            out_features, in_features = layer.weight.shape
            f.write(struct.pack("<ii", out_features, in_features))
            f.write(layer.weight.detach().float().contiguous().numpy().tobytes())
            f.write(layer.bias.detach().float().contiguous().numpy().tobytes())
    model = torch.nn.Sequential(layers[0], torch.nn.ReLU(), layers[1], torch.nn.ReLU(), layers[2]).half().cuda().eval()

    for batch in (1, 64, 256, 1024):
        host_in = torch.randn(batch, 256).pin_memory()
        host_out = torch.empty(batch, 16).pin_memory()
        iterations = 300 if batch >= 1024 else 1000
        with torch.inference_mode():
            def step() -> None:
                y = model(host_in.cuda(non_blocking=True).half())
                host_out.copy_(y.float(), non_blocking=True)
                torch.cuda.current_stream().synchronize()

            for _ in range(20):
                step()
            start = time.perf_counter()
            for _ in range(iterations):
                step()
            us = (time.perf_counter() - start) / iterations * 1e6
        print(json.dumps({"impl": "pytorch", "batch": batch, "us_per_batch": round(us, 2), "rows_per_s": round(batch * 1e6 / us)}), flush=True)


if __name__ == "__main__":
    main()
