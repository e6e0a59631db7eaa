/**
 * Latin-1 (ISO-8859-1) text, byte for byte. TextDecoder('latin1') is windows-1252 in browsers
 * (0x80 becomes U+20AC), which would corrupt Python 2 byte strings, so it is done by hand.
 */
import { FormatError } from './errors.ts';

export function decodeLatin1(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 8192) {
    out += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return out;
}

export function encodeLatin1(text: string, what: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 255) throw new FormatError(`${what}: text is not latin-1 bytes`);
    out[i] = c;
  }
  return out;
}
