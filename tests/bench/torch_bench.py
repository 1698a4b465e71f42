"""Images per second of PyTorch on the same architecture and batch sizes as
bench_engine; prints one JSON object.

    torch_bench.py seed|default THREADS SECONDS
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import torch_model  # noqa: E402
from rate import rate  # noqa: E402


def main():
    arch, threads, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    spec = torch_model.SEED if arch == "seed" else torch_model.DEFAULT
    layers = torch_model.parse(spec)
    params = torch_model.init_params(layers)

    result = {"arch": arch, "threads": threads, "torch": torch.__version__}
    for batch in (1, 32):
        xb = torch.randn(batch, 1, 124, 124)

        def infer():
            with torch.no_grad():
                torch_model.forward(layers, params, xb, False)
        result[f"infer_b{batch}_fp32"] = round(rate(infer, seconds) * batch, 1)

    xb, yb = torch.randn(32, 1, 124, 124), (torch.rand(32) > 0.5).double()
    trainable = [p for p in params.values() if p.requires_grad]
    opt = torch.optim.Adam(trainable, lr=1e-4)

    def train():
        opt.zero_grad()
        loss = torch_model.loss_fn(layers, torch_model.forward(layers, params, xb, True),
                                   yb.float(), torch.ones(32))
        loss.backward()
        opt.step()
    result["train_b32_fp32"] = round(rate(train, seconds) * 32, 1)
    print(json.dumps(result))


main()
