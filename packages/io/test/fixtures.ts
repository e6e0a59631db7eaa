/**
 * Test fixtures live in the repository's test/fixtures/io (written by
 * tools/reference/make_io_fixtures.py); `repoFixture` reads the other folders of test/fixtures
 * (official: PFGM++ training states written by the official code; nn: the same networks' state
 * dicts and outputs).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'fflate';

export const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/io/', import.meta.url));

export function fixture(name: string): Uint8Array {
  const bytes = new Uint8Array(readFileSync(FIXTURES + name));
  return name.endsWith('.gz') ? gunzipSync(bytes) : bytes;
}

export function repoFixture(path: string): Uint8Array {
  return new Uint8Array(readFileSync(`${FIXTURES}../${path}`));
}

export function fixtureJson(name: string): unknown {
  return JSON.parse(new TextDecoder().decode(fixture(name)));
}

/** Bytes from a string of latin-1 characters (hand-written pickles). */
export function latin1(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}
