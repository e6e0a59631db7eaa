"""Float64 NumPy re-implementation of the PFGM++ toy problem (SPEC 11), for cross-checking
packages/pfgmpp's GPU version (examples/toy.ts): same data recipe, MLP, EDM loss with the PFGM++
kernel (no clip), Adam, 50-step Heun sampler and RBF MMD; gradients written out by hand.

    python3 tools/reference/toy_numpy.py SEED D [EPOCHS]     # D = 100 or inf

Prints the epoch-0 and last-epoch loss, the MMD to the data (2,000 samples) and the share of
samples on the first cluster's side. Needs NumPy only.
"""
import numpy as np, sys
seed = int(sys.argv[1]); D = float(sys.argv[2]); epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 200
rng = np.random.default_rng(seed)
N = 1000; W = 32
X0 = 1 + rng.standard_normal((1000, 10)) * 0.2
X1 = -1 + rng.standard_normal((1000, 10)) * 0.2
A = rng.standard_normal((10, N))
X = np.concatenate([X0 @ A, X1 @ A]); X += rng.standard_normal(X.shape) * 0.01; X = np.clip(X, -100, 100)
S = np.sqrt(0.04 + 1)
def lin(fi, fo):
    b = 1 / np.sqrt(fi); return [rng.uniform(-b, b, (fi, fo)), rng.uniform(-b, b, (fo,))]
P = {}
for n, fi, fo in [('1', N, W), ('s', N, W), ('2', W, W), ('3', W, W), ('1s', W, W), ('4', W, N)]:
    P['W' + n], P['b' + n] = lin(fi, fo)
freqs = (1 / 10000) ** (np.arange(W // 2) / (W // 2))
def fwd(x, s):
    cin = 1 / np.sqrt(1 + s * s); xin = x * cin
    a = (np.log(s) / 4) * freqs[None, :]; emb = np.concatenate([np.cos(a), np.sin(a)], 1)
    h1 = xin @ P['W1'] + P['b1'] + emb; r1 = np.maximum(h1, 0)
    z2 = r1 @ P['W2'] + P['b2']; a2 = np.maximum(z2, 0); h2 = a2 + h1 @ P['W1s'] + P['b1s']
    z3 = h2 @ P['W3'] + P['b3']; a3 = np.maximum(z3, 0); h3 = a3 + xin @ P['Ws'] + P['bs']
    F = h3 @ P['W4'] + P['b4']
    Dx = F * (s * cin) + xin / (1 + s * s)
    return Dx, (xin, h1, r1, z2, h2, z3, h3, s * cin)
M = {k: np.zeros_like(v) for k, v in P.items()}; V = {k: np.zeros_like(v) for k, v in P.items()}
step = 0
for ep in range(epochs):
    perm = rng.permutation(2000); tot = 0
    for st in range(0, 2000, 128):
        y = X[perm[st:st + 128]] / S; B = len(y)
        s = np.exp(rng.standard_normal((B, 1)) * 1.2 - 1.2)
        if np.isfinite(D):
            b = rng.beta(N / 2, D / 2, B); ib = b / (1 - b + 1e-8)
            R = (s[:, 0] * np.sqrt(D) * np.sqrt(ib + 1e-8))[:, None]
            g = rng.standard_normal((B, N)); n = g / np.linalg.norm(g, axis=1, keepdims=True) * R
        else:
            n = rng.standard_normal((B, N)) * s
        xh = y + n
        Dx, (xin, h1, r1, z2, h2, z3, h3, cout) = fwd(xh, s)
        w = (s * s + 1) / (s * s)
        loss = np.mean(np.sum(w * (Dx - y) ** 2, 1)); tot += loss
        gD = 2 * w * (Dx - y) / B; gF = gD * cout
        G = {}
        G['W4'] = h3.T @ gF; G['b4'] = gF.sum(0); gh3 = gF @ P['W4'].T
        gz3 = gh3 * (z3 > 0); G['W3'] = h2.T @ gz3; G['b3'] = gz3.sum(0); gh2 = gz3 @ P['W3'].T
        G['Ws'] = xin.T @ gh3; G['bs'] = gh3.sum(0)
        gz2 = gh2 * (z2 > 0); G['W2'] = r1.T @ gz2; G['b2'] = gz2.sum(0); gr1 = gz2 @ P['W2'].T
        G['W1s'] = h1.T @ gh2; G['b1s'] = gh2.sum(0); gh1 = gh2 @ P['W1s'].T + gr1 * (h1 > 0)
        G['W1'] = xin.T @ gh1; G['b1'] = gh1.sum(0)
        step += 1
        for k in P:
            M[k] = 0.9 * M[k] + 0.1 * G[k]; V[k] = 0.999 * V[k] + 0.001 * G[k] ** 2
            mh = M[k] / (1 - 0.9 ** step); vh = V[k] / (1 - 0.999 ** step)
            P[k] -= 1e-3 * mh / (np.sqrt(vh) + 1e-8)
    if ep in (0, epochs - 1): print('epoch', ep, tot / 2000)
# sample
ns = 2000; tmax, tmin, rho = 50, 0.001, 7
i = np.arange(50); t = (tmax ** (1 / rho) + i / 49 * (tmin ** (1 / rho) - tmax ** (1 / rho))) ** rho; t = np.append(t, 0)
if np.isfinite(D):
    b = rng.beta(N / 2, D / 2, ns); ib = b / (1 - b + 1e-8); R = (t[0] * np.sqrt(D) * np.sqrt(ib + 1e-8))[:, None]
    g = rng.standard_normal((ns, N)); x = g / np.linalg.norm(g, axis=1, keepdims=True) * R
else:
    x = rng.standard_normal((ns, N)) * t[0]
for k in range(50):
    tc, tn = t[k], t[k + 1]
    d = (x - fwd(x, np.full((ns, 1), tc))[0]) / tc; xn = x + (tn - tc) * d
    if k < 49:
        d2 = (xn - fwd(xn, np.full((ns, 1), tn))[0]) / tn; xn = x + (tn - tc) * (0.5 * d + 0.5 * d2)
    x = xn
gen = x * S
T = np.concatenate([X, gen]); sq = (T * T).sum(1); L2 = np.maximum(sq[:, None] + sq[None, :] - 2 * T @ T.T, 0)
n2 = len(T); bw = L2.sum() / (n2 * n2 - n2) / 4
K = sum(np.exp(-L2 / (bw * 2 ** q)) for q in range(5))
mmd = (K[:2000, :2000] + K[2000:, 2000:] - K[:2000, 2000:] - K[2000:, :2000]).mean()
dirv = X[:1000].mean(0) - X[1000:].mean(0)
print('seed', seed, 'D', D, 'MMD', mmd, 'frac+', ((gen - X.mean(0)) @ dirv > 0).mean())
