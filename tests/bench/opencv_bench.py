"""Images per second of OpenCV's DNN module (its own CPU backend) on the
same architecture as bench_engine, exported to ONNX from the PyTorch
network of tests/reference/torch_model.py; prints one JSON object. The ONNX file is
checked (onnx.checker) and OpenCV's output is checked against PyTorch's on
the same input before anything is timed.

    opencv_bench.py seed|default THREADS SECONDS
"""
import json
import os
import sys
import tempfile

import cv2
import numpy as np
import onnx
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import torch_model  # noqa: E402
from rate import rate  # noqa: E402


class Network(torch.nn.Module):
    """torch_model's network as a module, for the ONNX export"""
    def __init__(self, layers, params):
        super().__init__()
        self.layers, self.params = layers, params

    def forward(self, x):
        return torch_model.forward(self.layers, self.params, x, False)


def main():
    arch, threads, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    torch.manual_seed(1)
    spec = torch_model.SEED if arch == "seed" else torch_model.DEFAULT
    layers = torch_model.parse(spec)
    params = {k: v.detach() for k, v in torch_model.init_params(layers).items()}
    network = Network(layers, params).eval()
    x = torch.randn(1, 1, 124, 124)

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, arch + ".onnx")
        with torch.no_grad():
            torch.onnx.export(network, x, path, input_names=["film"],
                              output_names=["p"], opset_version=13)
            expected = network(x).numpy()
        onnx.checker.check_model(onnx.load(path))
        net = cv2.dnn.readNetFromONNX(path)
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
    film = x.numpy()
    net.setInput(film)
    got = net.forward()
    difference = float(np.abs(got.reshape(expected.shape) - expected).max())
    if not difference < 1e-3:
        sys.exit(f"OpenCV's output differs from PyTorch's by {difference}")

    def infer():
        net.setInput(film)
        net.forward()
    print(json.dumps({"arch": arch, "threads": threads, "opencv": cv2.__version__,
                      "infer_b1_fp32": round(rate(infer, seconds), 1),
                      "largest_difference_from_torch": difference}))


main()
