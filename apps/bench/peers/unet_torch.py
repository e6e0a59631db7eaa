"""PyTorch CPU peer for `npm run bench -- unet`.

Builds the same SongUNet (DDPM++ layout: positional embedding, standard encoder/decoder,
resample filter [1,1], attention with one head) behind EDM preconditioning, written here from
the architecture description, and times forward and forward+backward on random inputs.

    /usr/bin/python3 apps/bench/peers/unet_torch.py CONFIG_JSON

CONFIG_JSON: {"model_channels", "channel_mult", "num_blocks", "attn_resolutions",
"img_resolution", "img_channels", "augment_dim", "dropout", "batch", "iters", "threads"}.
Prints one JSON line: {"fwd": img/s, "fwdbwd": img/s, "params": n, "torch": version}.
"""

import json
import math
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn


class Conv(nn.Module):
    def __init__(self, cin, cout, k, up=False, down=False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, k, k) / math.sqrt(cin * k * k)) if k else None
        self.bias = nn.Parameter(torch.zeros(cout)) if k else None
        self.up, self.down, self.cin = up, down, cin
        self.register_buffer('f', torch.full((1, 1, 2, 2), 0.25))

    def forward(self, x):
        if self.up:
            x = F.conv_transpose2d(x, self.f.mul(4).tile([self.cin, 1, 1, 1]), groups=self.cin, stride=2)
        if self.down:
            x = F.conv2d(x, self.f.tile([self.cin, 1, 1, 1]), groups=self.cin, stride=2)
        if self.weight is not None:
            x = F.conv2d(x, self.weight, self.bias, padding=self.weight.shape[-1] // 2)
        return x


class Block(nn.Module):
    def __init__(self, cin, cout, emb, up=False, down=False, attn=False, dropout=0.0):
        super().__init__()
        self.norm0 = nn.GroupNorm(min(32, cin // 4), cin, eps=1e-6)
        self.conv0 = Conv(cin, cout, 3, up, down)
        self.affine = nn.Linear(emb, cout)
        self.norm1 = nn.GroupNorm(min(32, cout // 4), cout, eps=1e-6)
        self.conv1 = Conv(cout, cout, 3)
        self.skip = Conv(cin, cout, 1, up, down) if (cin != cout or up or down) else None
        self.attn = attn
        self.dropout = dropout
        if attn:
            self.norm2 = nn.GroupNorm(min(32, cout // 4), cout, eps=1e-6)
            self.qkv = Conv(cout, 3 * cout, 1)
            self.proj = Conv(cout, cout, 1)

    def forward(self, x, emb):
        s = math.sqrt(0.5)
        h = self.conv0(F.silu(self.norm0(x)))
        h = F.silu(self.norm1(h + self.affine(emb)[:, :, None, None]))
        h = self.conv1(F.dropout(h, self.dropout, self.training))
        x = (h + (self.skip(x) if self.skip is not None else x)) * s
        if self.attn:
            B, C, H, W = x.shape
            q, k, v = self.qkv(self.norm2(x)).reshape(B, C, 3, H * W).unbind(2)
            w = torch.einsum('ncq,nck->nqk', q, k / math.sqrt(C)).softmax(dim=2)
            a = torch.einsum('nqk,nck->ncq', w, v)
            x = (self.proj(a.reshape(B, C, H, W)) + x) * s
        return x


class SongUNet(nn.Module):
    def __init__(self, c):
        super().__init__()
        mc, mult, res0 = c['model_channels'], c['channel_mult'], c['img_resolution']
        E = mc * 4
        self.mc = mc
        self.map_augment = nn.Linear(c['augment_dim'], mc, bias=False) if c['augment_dim'] else None
        self.map_layer0 = nn.Linear(mc, E)
        self.map_layer1 = nn.Linear(E, E)
        blk = dict(emb=E, dropout=c['dropout'])
        self.enc = nn.ModuleList()
        skips = []
        cout = c['img_channels']
        for level, m in enumerate(mult):
            res = res0 >> level
            if level == 0:
                self.enc.append(Conv(cout, mc, 3))
                cout = mc
            else:
                self.enc.append(Block(cout, cout, down=True, **blk))
            skips.append(cout)
            for _ in range(c['num_blocks']):
                self.enc.append(Block(cout, mc * m, attn=res in c['attn_resolutions'], **blk))
                cout = mc * m
                skips.append(cout)
        self.dec = nn.ModuleList()
        for level in reversed(range(len(mult))):
            res = res0 >> level
            if level == len(mult) - 1:
                self.dec.append(Block(cout, cout, attn=True, **blk))
                self.dec.append(Block(cout, cout, **blk))
            else:
                self.dec.append(Block(cout, cout, up=True, **blk))
            for i in range(c['num_blocks'] + 1):
                cin = cout + skips.pop()
                cout = mc * mult[level]
                self.dec.append(Block(cin, cout, attn=(i == c['num_blocks'] and res in c['attn_resolutions']), **blk))
        self.out_norm = nn.GroupNorm(min(32, cout // 4), cout, eps=1e-6)
        self.out_conv = Conv(cout, c['img_channels'], 3)

    def forward(self, x, noise, aug):
        half = self.mc // 2
        freqs = (1 / 10000) ** (torch.arange(half, dtype=torch.float32) / (half - 1))
        e = noise.ger(freqs)
        e = torch.cat([e.sin(), e.cos()], dim=1)
        if self.map_augment is not None:
            e = e + self.map_augment(aug)
        e = F.silu(self.map_layer1(F.silu(self.map_layer0(e))))
        skips = []
        for b in self.enc:
            x = b(x, e) if isinstance(b, Block) else b(x)
            skips.append(x)
        for b in self.dec:
            if x.shape[1] != b.conv0.weight.shape[1]:
                x = torch.cat([x, skips.pop()], dim=1)
            x = b(x, e)
        return self.out_conv(F.silu(self.out_norm(x)))


def edm(net, x, sigma, aug):
    s = sigma.reshape(-1, 1, 1, 1)
    c_in = 1 / (0.25 + s**2).sqrt()
    f = net(x * c_in, sigma.log() / 4, aug)
    return 0.25 / (s**2 + 0.25) * x + s * 0.5 / (s**2 + 0.25).sqrt() * f


def main():
    c = json.loads(sys.argv[1])
    torch.set_num_threads(c.get('threads', 2))
    torch.manual_seed(0)
    dev = torch.device(c.get('device', 'cpu'))
    sync = torch.cuda.synchronize if dev.type == 'cuda' else (lambda: None)
    net = SongUNet(c).to(dev)
    B, R, C = c['batch'], c['img_resolution'], c['img_channels']
    x = torch.randn(B, C, R, R, device=dev)
    sigma = torch.exp(torch.randn(B, device=dev) * 1.2 - 1.2)
    aug = torch.randn(B, c['augment_dim'], device=dev) if c['augment_dim'] else None
    out = {'params': sum(p.numel() for p in net.parameters()), 'torch': torch.__version__}

    net.eval()
    with torch.no_grad():
        edm(net, x, sigma, aug)
        sync()
        t = time.perf_counter()
        for _ in range(c['iters']):
            edm(net, x, sigma, aug)
        sync()
        out['fwd'] = B * c['iters'] / (time.perf_counter() - t)

    net.train()
    y = torch.randn_like(x)

    def step():
        loss = ((edm(net, x, sigma, aug) - y) ** 2).mean()
        loss.backward()
        net.zero_grad(set_to_none=True)

    step()
    sync()
    t = time.perf_counter()
    for _ in range(c['iters']):
        step()
    sync()
    out['fwdbwd'] = B * c['iters'] / (time.perf_counter() - t)
    print(json.dumps(out))


if __name__ == '__main__':
    main()
