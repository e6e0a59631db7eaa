/** File names in datasets: which count as images, their order, and which are unsafe. */

/**
 * Extensions Pillow 9.4 registers (`PIL.Image.EXTENSION` after `init()`): the official code
 * takes every file with one of these as an image. We select files the same way, so an archive
 * lists the same images, but only PNG can be decoded; others fail with a clear error.
 */
const PIL_EXTENSIONS = new Set(
  (
    'apng blp bmp bufr bw cur dcx dds dib emf eps fit fits flc fli ftc ftu gbr gif grib h5 hdf icb ' +
    'icns ico iim im j2c j2k jfif jp2 jpc jpe jpeg jpf jpg jpx mpeg mpg mpo msp palm pbm pcd pcx ' +
    'pdf pgm png pnm ppm ps psd pxr ras rgb rgba sgi tga tif tiff vda vst webp wmf xbm xpm'
  ).split(' '),
);

/** The lower-cased text after the last '.', as `fname.split('.')[-1].lower()`. */
export function extensionOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot < 0 ? name.toLowerCase() : name.slice(dot + 1).toLowerCase();
}

export function isImageName(name: string): boolean {
  return !name.endsWith('/') && PIL_EXTENSIONS.has(extensionOf(name));
}

/** Python's string order (by code point; JS's default sort compares UTF-16 units). */
export function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return x.done ? (y.done ? 0 : -1) : 1;
    const d = (x.value.codePointAt(0) as number) - (y.value.codePointAt(0) as number);
    if (d !== 0) return d;
  }
}

/** pathlib's order: by the list of path components ('a/b' sorts before 'a-c'). */
export function comparePathParts(a: string, b: string): number {
  const pa = a.split('/');
  const pb = b.split('/');
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const d = compareCodePoints(pa[i] as string, pb[i] as string);
    if (d !== 0) return d;
  }
  return pa.length - pb.length;
}

/**
 * Archive member names that would escape a folder if extracted: absolute paths, drive letters,
 * '..' components (with '/' or '\' separators) and NUL bytes. Datasets refuse them.
 */
export function isUnsafeName(name: string): boolean {
  if (name.includes('\0') || /^[/\\]/.test(name) || /^[a-zA-Z]:/.test(name)) return true;
  return name.split(/[/\\]/).some((part) => part === '..');
}
