// Exit 0 and print the adapter when Dawn (npm `webgpu`) finds one; exit 1 otherwise.
let webgpu;
try {
  webgpu = await import('webgpu');
} catch {
  console.error('the npm package `webgpu` is not installed (run npm install)');
  process.exit(1);
}
Object.assign(globalThis, webgpu.globals);
const gpu = webgpu.create([]);
const adapter = await gpu.requestAdapter();
if (!adapter) {
  console.error('no WebGPU adapter');
  process.exit(1);
}
const info = adapter.info ?? {};
console.log(
  `${info.vendor ?? '?'} ${info.architecture ?? ''} ${info.device ?? ''} ${info.description ?? ''}`.trim(),
);
process.exit(0);
