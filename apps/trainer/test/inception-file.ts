/** The synthetic-weight Inception file of the fid tests, written as safetensors under the weight file's names. */
import { writeFileSync } from 'node:fs';
import { canonicalName, syntheticWeights } from '@pfgmpp/fid';
import { writeSafetensors } from '@pfgmpp/io';

export function writeSyntheticInception(path: string, options: { fc?: boolean } = {}): void {
  const tensors = new Map(
    [...syntheticWeights(options)].map(([k, t]) => [
      canonicalName(k),
      { dtype: 'float32' as const, shape: [...t.shape], data: t.data },
    ]),
  );
  writeFileSync(path, writeSafetensors(tensors));
}
