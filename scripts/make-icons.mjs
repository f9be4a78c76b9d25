// Draws the app icons (PNG) with no image library: a smiling face on a blue-violet tile, the
// kind of picture the bundled model makes. Run once after changing the drawing; the PNGs are
// committed (public/icons/), so builds need nothing but Node.
//   node scripts/make-icons.mjs
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';

const out = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../public/icons');

// ---- PNG encoding (RGBA8, no filter) ---------------------------------------------------------
const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}
function encodePng(size, rgba) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  const raw = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) rgba.copy(raw, y * (size * 4 + 1) + 1, y * size * 4, (y + 1) * size * 4);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

// ---- the drawing, in unit coordinates (0..1), sampled 4×4 per pixel for smooth edges ----------
const mix = (a, b, t) => a.map((v, i) => v + (b[i] - v) * t);
const top = [47, 111, 235];
const bottom = [122, 63, 240];
const face = [255, 214, 64];
const ink = [40, 30, 60];

/** Colour at (x, y); `inset` shrinks the face (maskable icons keep content in the central 80%). */
function colour(x, y, { rounded, inset }) {
  if (rounded) {
    const r = 0.2; // corner radius
    const cx = Math.min(Math.max(x, r), 1 - r);
    const cy = Math.min(Math.max(y, r), 1 - r);
    if ((x - cx) ** 2 + (y - cy) ** 2 > r * r) return null; // transparent corner
  }
  const s = inset; // face radius
  const fx = (x - 0.5) / s;
  const fy = (y - 0.5) / s;
  const d = Math.hypot(fx, fy);
  if (d <= 1) {
    const eye = (ex) => Math.hypot(fx - ex, (fy + 0.25) * 0.8) < 0.14;
    if (eye(-0.35) || eye(0.35)) return ink;
    const smile = Math.hypot(fx, fy - 0.05);
    if (fy > 0.15 && smile > 0.5 && smile < 0.66) return ink;
    return d > 0.94 ? mix(face, ink, 0.35) : face;
  }
  // A one-step "spark" in the top-right corner of the tile.
  const sx = x - 0.8;
  const sy = y - 0.2;
  if (!rounded || inset > 0.3) {
    if (Math.abs(sx) * Math.abs(sy) < 0.0009 && Math.hypot(sx, sy) < 0.1) return [255, 255, 255];
  }
  return mix(top, bottom, y);
}

function draw(size, options) {
  const rgba = Buffer.alloc(size * size * 4);
  const ss = 4;
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      const acc = [0, 0, 0, 0];
      for (let j = 0; j < ss; j++) {
        for (let i = 0; i < ss; i++) {
          const c = colour((px + (i + 0.5) / ss) / size, (py + (j + 0.5) / ss) / size, options);
          if (!c) continue;
          acc[0] += c[0];
          acc[1] += c[1];
          acc[2] += c[2];
          acc[3] += 1;
        }
      }
      const o = (py * size + px) * 4;
      const n = acc[3];
      rgba[o] = n ? Math.round(acc[0] / n) : 0;
      rgba[o + 1] = n ? Math.round(acc[1] / n) : 0;
      rgba[o + 2] = n ? Math.round(acc[2] / n) : 0;
      rgba[o + 3] = Math.round((255 * n) / (ss * ss));
    }
  }
  return encodePng(size, rgba);
}

mkdirSync(out, { recursive: true });
const icons = [
  ['icon-192.png', 192, { rounded: true, inset: 0.32 }],
  ['icon-512.png', 512, { rounded: true, inset: 0.32 }],
  // Maskable: full-bleed tile, face inside the 80% safe zone that every mask shape keeps.
  ['maskable-512.png', 512, { rounded: false, inset: 0.28 }],
  ['apple-touch-icon-180.png', 180, { rounded: false, inset: 0.32 }],
  ['favicon-32.png', 32, { rounded: true, inset: 0.36 }],
];
for (const [name, size, options] of icons) {
  writeFileSync(path.join(out, name), draw(size, options));
  console.log(`public/icons/${name} (${size}×${size})`);
}
