// @ts-check
// Eight MNIST digits from the checkpoint shipped with @pfgmpp/cli, written as one PNG strip.
// After `npm install @pfgmpp/cli` (it brings the libraries): node node.mjs [digits.png]
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { encodePng } from '@pfgmpp/io';
import { asDenoiser } from '@pfgmpp/nn';
import { generate, loadNetwork, toUint8 } from '@pfgmpp/pfgmpp/node';
import { getDevice } from '@pfgmpp/tensor/node'; // Node's WebGPU (Dawn)

await getDevice(); // the adapter (a GPU, or a software one such as lavapipe)
const url = import.meta.resolve('@pfgmpp/cli/assets/mnist16-pfgmpp-d128.safetensors');
const { net, D } = await loadNetwork(fileURLToPath(url)); // D = 128, as trained
const seeds = [0, 1, 2, 3, 4, 5, 6, 7];
const samples = await generate(asDenoiser(net), seeds, { D, sampler: 'edm' }); // 18 Heun steps
const pixels = toUint8(samples); // [8, 1, 16, 16] as uint8, NCHW
const S = net.imgResolution;
const W = seeds.length * S;
const strip = new Uint8Array(W * S);
for (let i = 0; i < pixels.length; i++) {
  const [n, y, x] = [Math.floor(i / (S * S)), Math.floor(i / S) % S, i % S];
  strip[y * W + n * S + x] = pixels[i] ?? 0;
}
writeFileSync(
  process.argv[2] ?? 'digits.png',
  encodePng({ width: W, height: S, channels: 1, data: strip }),
);
net.dispose();
