#!/usr/bin/env node
// The project ships TypeScript sources, not a build: tsx compiles them on the fly.
import { register } from 'tsx/esm/api';

register();
const { main, nodeIo } = await import('../src/main.ts');
process.exitCode = await main(process.argv.slice(2), nodeIo());
