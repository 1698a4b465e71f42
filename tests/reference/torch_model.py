"""The network of a gst-cxr layer spec in PyTorch, for cross-checks and
benchmarks. The grammar is the one in kernels/engine/layerspec.h; parameter names
are the model file's ("layer3.weight", ...)."""
import torch
import torch.nn.functional as F

SEED = ("conv:32 relu dropout:0.2 maxpool:2 conv:64 relu dropout:0.2 maxpool:2 "
        "conv:128 relu dropout:0.2 maxpool:2 flatten dense:128 relu dense:1 sigmoid")
DEFAULT = ("conv:16,s2,same,bn relu conv:32,same,bn relu maxpool:2 "
           "conv:64,same,bn relu maxpool:2 conv:96,same,bn relu maxpool:2 "
           "conv:128,same,bn relu gap dropout:0.2 dense:1 sigmoid")


def parse(spec):
    """List of layer dicts (relu folded into the layer before, like ours)."""
    layers = []
    for tok in spec.split():
        name, _, args = tok.partition(":")
        args = args.split(",") if args else []
        if name == "relu":
            layers[-1]["relu"] = True
            continue
        if name in ("sigmoid", "softmax"):
            layers.append({"type": name})
            continue
        l = {"type": name, "relu": False, "bn": False}
        if name == "conv":
            l.update(units=int(args[0]), k=3, s=1, p=0)
        elif name in ("maxpool", "avgpool"):
            l.update(k=int(args[0]), s=None, p=0)
        elif name == "dense":
            l.update(units=int(args[0]))
        elif name == "dropout":
            l.update(p=float(args[0]))
        for a in args[1:]:
            if a == "bn":
                l["bn"] = True
            elif a == "same":
                l["p"] = l["k"] // 2
            elif a[0] in "ksp":
                l[a[0]] = int(a[1:])
        if name in ("maxpool", "avgpool") and l["s"] is None:
            l["s"] = l["k"]
        layers.append(l)
    return layers


def to_bf16(x):
    """x rounded to bfloat16 (nearest even), kept in x's dtype."""
    return x.float().bfloat16().to(x.dtype)


class RoundBF16(torch.autograd.Function):
    """Rounds the value going forward and its gradient going back: where
    a mixed-precision engine stores a tensor and its gradient in bf16."""
    @staticmethod
    def forward(ctx, x):
        return to_bf16(x)

    @staticmethod
    def backward(ctx, g):
        return to_bf16(g)


class RoundGradBF16(torch.autograd.Function):
    """Only the gradient is stored in bf16 (fp32 logits, bf16 gradient)."""
    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        return to_bf16(g)


class RoundValueBF16(torch.autograd.Function):
    """A bf16 copy of fp32 master weights; their gradient stays fp32."""
    @staticmethod
    def forward(ctx, x):
        return to_bf16(x)

    @staticmethod
    def backward(ctx, g):
        return g


def forward(layers, params, x, training, masks=None, momentum=0.1, bf16=False,
            start=0):
    """params: dict name -> tensor (running stats updated in place when
    training); masks: dict layer index -> dropout multiplier (training).
    bf16: round values and gradients where our mixed-precision training
    stores them in bf16. start: x is the output of layer start - 1, and the
    layers from start on are run. Returns the logits."""
    r = RoundBF16.apply if bf16 else (lambda v: v)
    w = RoundValueBF16.apply if bf16 else (lambda v: v)
    if bf16:
        x = to_bf16(x)
    last = max((i for i, l in enumerate(layers) if l["type"] == "dense"), default=-1)
    for i, l in enumerate(layers[start:], start):
        t, p = l["type"], lambda s: params[f"layer{i}.{s}"]
        if t == "conv":
            x = F.conv2d(x, w(p("weight")), None if l["bn"] else p("bias"),
                         stride=l["s"], padding=l["p"])
            if l["bn"]:
                x = F.batch_norm(r(x), p("bn_mean"), p("bn_var"), p("bn_scale"),
                                 p("bn_shift"), training=training,
                                 momentum=momentum, eps=1e-5)
        elif t == "maxpool":
            x = F.max_pool2d(x, l["k"], l["s"], l["p"])
        elif t == "avgpool":
            x = F.avg_pool2d(x, l["k"], l["s"], l["p"], count_include_pad=False)
        elif t == "gap":
            x = x.mean(dim=(2, 3), keepdim=True)
        elif t == "dropout":
            if training:
                x = x * masks[i] if masks is not None else F.dropout(x, l["p"])
        elif t == "dense":
            x = F.linear(x.flatten(1), w(p("weight")), p("bias"))
        if l.get("relu"):
            x = F.relu(x)
        if bf16 and t not in ("sigmoid", "softmax"):
            x = RoundGradBF16.apply(x) if i == last else r(x)
    return x


def feature_layer(layers):
    """The layer a heatmap is taken at: the last convolution or pooling."""
    return max(i for i, l in enumerate(layers)
               if l["type"] in ("conv", "maxpool", "avgpool"))


def unit_max(m):
    """m with negative values set to 0, divided by its maximum."""
    m = torch.relu(m)
    return m / m.max() if m.max() > 0 else m


def grad_cam(layers, params, x):
    """Grad-CAM of the last class's logit at the feature layer, by autograd,
    for one sample x [1, C, H, W]: (map [h, w], features [1, c, h, w])."""
    k = feature_layer(layers)
    with torch.no_grad():
        a = forward(layers[:k + 1], params, x, False)
    a.requires_grad_(True)
    z = forward(layers, params, a, False, start=k + 1)
    (g,) = torch.autograd.grad(z[0, -1], a)
    alpha = g.mean(dim=(2, 3), keepdim=True)
    return unit_max((alpha * a).sum(1)[0]).detach(), a.detach()


def cam(layers, params, features):
    """The class activation map of a global-average-pool head: the dense
    weights of the last class over the features' channels."""
    dense = max(i for i, l in enumerate(layers) if l["type"] == "dense")
    w = params[f"layer{dense}.weight"][-1]
    return unit_max((w[:, None, None] * features[0]).sum(0)).detach()


def loss_fn(layers, logits, labels, weights):
    """Mean over the batch of weight x cross-entropy, as the engine defines it."""
    if layers[-1]["type"] == "sigmoid":
        z = logits[:, 0]
        per = F.softplus(z) - labels * z
    else:
        per = -F.log_softmax(logits, 1).gather(1, labels.long()[:, None])[:, 0]
    return (weights * per).mean()


def init_params(layers, shape=(1, 124, 124)):
    """He-initialised parameters named and shaped as in the model file."""
    x0 = torch.zeros(1, *shape)
    params = {}
    for i, l in enumerate(layers):
        if l["type"] in ("sigmoid", "softmax"):
            break
        with torch.no_grad():
            x = forward(layers[:i], params, x0, False)
        fan_in = x[0].numel() if l["type"] == "dense" else x.shape[1] * l.get("k", 1) ** 2
        if l["type"] == "conv":
            params[f"layer{i}.weight"] = torch.randn(l["units"], x.shape[1], l["k"], l["k"])
        elif l["type"] == "dense":
            params[f"layer{i}.weight"] = torch.randn(l["units"], x[0].numel())
        if f"layer{i}.weight" in params:
            params[f"layer{i}.weight"] *= (2 / fan_in) ** 0.5
            if l["bn"]:
                params[f"layer{i}.bn_scale"] = torch.ones(l["units"])
                params[f"layer{i}.bn_shift"] = torch.zeros(l["units"])
                params[f"layer{i}.bn_mean"] = torch.zeros(l["units"])
                params[f"layer{i}.bn_var"] = torch.ones(l["units"])
            else:
                params[f"layer{i}.bias"] = torch.zeros(l["units"])
    for k, p in params.items():
        p.requires_grad_(not k.endswith(("bn_mean", "bn_var")))
    return params
