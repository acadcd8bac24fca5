"""A direct NumPy transcription of the spec (§1), written independently of the Keras layers.

It follows the reference code literally: -inf masking with the pad-query rows masked too and NaN set to 0,
Conv1d with padding k-1 cropped to L, and the λ-difference without residual. Weights are read from a Keras
model by layer name.
"""
import numpy as np

PAD, SEP = 0, 4


def _rmsnorm(x, g, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * g


def _silu(x):
    return x / (1.0 + np.exp(-x))


def forward(model, config, ids):
    """Classifier logits for int ids (B, L), from the weights of a Keras EmbBERT classifier."""
    w = {layer.name: [v.numpy().astype(np.float64) for v in layer.weights] for layer in model.layers}
    B, L = ids.shape
    d = config.hidden
    e_tok, p_tok, e_pos, p_pos, e_seg = w["embedder"]
    e_tok = e_tok.copy()
    e_tok[PAD] = 0.0
    e_seg = e_seg.copy()
    e_seg[0] = 0.0
    seg = np.ones((B, L), int)
    for b in range(B):
        seps = np.flatnonzero(ids[b] == SEP)
        if len(seps):
            seg[b, seps[0]:] = 2
    seg[ids == PAD] = 0
    x = e_tok[ids] @ p_tok + (e_pos[:L] @ p_pos)[None] + e_seg[seg]

    mask = (ids != PAD).astype(float)
    n = mask.sum(1).astype(int)
    score_mask = np.zeros((B, L, L))
    for b in range(B):
        score_mask[b, : n[b], :] = mask[b][None, :]

    for i in range(config.num_layers):
        p = f"layer{i}_"
        (g,) = w[p + "norm"]
        h = _rmsnorm(x, g, config.norm_eps)
        wq, bq = w[p + "query"]
        q = h @ wq + bq
        s = q @ h.transpose(0, 2, 1) / np.sqrt(d)
        s = np.where(score_mask > 0, s, -np.inf)
        with np.errstate(invalid="ignore"):
            s = s - s.max(-1, keepdims=True)
            prob = np.exp(s) / np.exp(s).sum(-1, keepdims=True)
        prob = np.nan_to_num(prob, nan=0.0)
        ctx = prob @ h
        wo, bo, lq1, lk1 = w[p + "attention_output"]
        out1 = ctx @ wo + bo
        kernel, bias = w[p + "conv"]
        kernel = kernel[0]  # (k, d, m)
        k, _, m = kernel.shape
        padded = np.concatenate([np.zeros((B, k - 1, d)), h], axis=1)
        conv = np.zeros((B, L, d * m))
        for t in range(L):
            window = padded[:, t : t + k, :]  # (B, k, d)
            conv[:, t, :] = np.einsum("bkc,kcm->bcm", window, kernel).reshape(B, d * m)
        u = _silu(conv + bias)
        wc, bc, lq2, lk2 = w[p + "contract"]
        out2 = u @ wc + bc
        block = np.exp(lq1 @ lk1) * out1 - np.exp(lq2 @ lk2) * out2
        x = x + block if config.residual else block

    wh, bh = w["classifier"]
    return x[:, 0] @ wh + bh
