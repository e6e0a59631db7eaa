/**
 * DOM helpers. Every failure goes through `showError`, so a problem is a visible message in the
 * page and on `window.viewer`, never a blank page or a console-only trace.
 */
import type { NetworkInfo } from './network.ts';
import { formatD } from './params.ts';
import { state } from './state.ts';

export function $<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Shows the error (with a hint where one helps) and records it; `context` says what failed. */
export function showError(context: string, e: unknown): void {
  let text = `${context}: ${message(e)}`;
  if (/out of memory|OutOfMemory|allocation/i.test(text))
    text += '\nThe GPU ran out of memory: sample fewer images at once, or use a smaller network.';
  const box = $('error');
  box.textContent = text;
  box.hidden = false;
  state.error = text;
  state.status = 'error';
}

export function clearError(): void {
  $('error').hidden = true;
  state.error = null;
}

/** The page cannot work at all without WebGPU; say what to enable rather than fail later. */
export function webgpuMissing(): string | null {
  if (!window.isSecureContext)
    return 'WebGPU needs a secure context: open the page over https or from localhost.';
  if (!('gpu' in navigator))
    return (
      'This browser has no WebGPU (navigator.gpu is missing). Use a recent Chrome or Edge, ' +
      'Safari 26+, or Firefox with dom.webgpu.enabled; on Linux, Chrome may need ' +
      'chrome://flags/#enable-unsafe-webgpu and Vulkan.'
    );
  return null;
}

export function showInfo(info: NetworkInfo): void {
  const rows: [string, string][] = [
    ['file', info.fileName],
    ['format', info.format],
    ['network', `${info.className} (${info.architecture})`],
    ['images', `${info.channels} x ${info.resolution} x ${info.resolution}`],
    ['trained D', `${formatD(info.D)}${Number.isFinite(info.D) ? ' (PFGM++)' : ' (diffusion)'}`],
    ['parameters', info.parameters.toLocaleString('en-US')],
    ['labels', info.labelDim ? `${info.labelDim} classes` : 'unconditional'],
  ];
  $('info').replaceChildren(
    ...rows.flatMap(([k, v]) => {
      const dt = document.createElement('dt');
      dt.textContent = k;
      const dd = document.createElement('dd');
      dd.textContent = v;
      return [dt, dd];
    }),
  );
}
