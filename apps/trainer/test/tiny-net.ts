/** The tiny PFGM++ network of the training tests: D = 16, 8 channels, levels [1, 2], one block, no attention (8x8 digits). */
export const TINY_NET = [
  '--pfgmpp',
  '--aug_dim',
  '16',
  '--cbase',
  '8',
  '--cres',
  '1,2',
  '--nblock',
  '1',
  '--attn',
  'none',
];
