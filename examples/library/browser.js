// @ts-check
// The browser version of node.mjs: the same eight digits, sampled with the page's WebGPU.
// Bundle it with any bundler (test/pack/pack.test.ts uses Vite) next to an index.html that loads
// it as a module, and serve mnist16-pfgmpp-d128.safetensors (from @pfgmpp/cli/assets) beside it.
import { readCheckpoint } from '@pfgmpp/io';
import { asDenoiser } from '@pfgmpp/nn';
import { generate, networkFromCheckpoint, toUint8 } from '@pfgmpp/pfgmpp';
import { getDevice } from '@pfgmpp/tensor';

const FILE = 'mnist16-pfgmpp-d128.safetensors';
await getDevice(); // navigator.gpu
const bytes = new Uint8Array(await (await fetch(FILE)).arrayBuffer());
const { net, D } = networkFromCheckpoint(readCheckpoint(bytes, { fileName: FILE }));
const seeds = [0, 1, 2, 3, 4, 5, 6, 7];
const pixels = toUint8(await generate(asDenoiser(net), seeds, { D, sampler: 'edm' }));
const S = net.imgResolution;
const canvas = document.createElement('canvas');
canvas.width = seeds.length * S;
canvas.height = S;
const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
const image = ctx.createImageData(canvas.width, S);
for (let i = 0; i < pixels.length; i++) {
  const [n, y, x] = [Math.floor(i / (S * S)), Math.floor(i / S) % S, i % S];
  image.data.fill(
    pixels[i] ?? 0,
    4 * (y * canvas.width + n * S + x),
    4 * (y * canvas.width + n * S + x) + 3,
  );
  image.data[4 * (y * canvas.width + n * S + x) + 3] = 255;
}
ctx.putImageData(image, 0, 0);
document.body.append(canvas);
net.dispose();
Object.assign(window, { digits: Array.from(pixels) }); // [8, 1, 16, 16] uint8, for tests
