// Draws the app and tray icons as PNGs with nothing but node:zlib, so they can be regenerated
// anywhere: `node build/make-icons.js`. The PNGs are committed; electron-builder turns
// build/icon.png into .icns/.ico, Linux uses build/icons/<size>.png, the tray uses build/tray/.
//
// The mark is the one the window shows: a ring on an indigo-to-teal rounded square. Tray icons
// carry the state in their colour (and shape: signed out is a hollow ring), and stay readable on
// light and dark panels.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';

const here = path.dirname(fileURLToPath(import.meta.url));

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buffer) {
  let c = 0xffffffff;
  for (const byte of buffer) c = crcTable[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** RGBA pixels (Float32 0..1, premultiplied-free) → PNG bytes. */
function encodePng(size, pixels) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header[8] = 8; // bit depth
  header[9] = 6; // RGBA
  const raw = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y += 1) {
    raw[y * (size * 4 + 1)] = 0; // filter: none
    for (let x = 0; x < size; x += 1) {
      for (let c = 0; c < 4; c += 1) {
        const value = pixels[(y * size + x) * 4 + c];
        raw[y * (size * 4 + 1) + 1 + x * 4 + c] = Math.round(Math.min(1, Math.max(0, value)) * 255);
      }
    }
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const hex = (value) => [1, 3, 5].map((i) => parseInt(value.slice(i, i + 2), 16) / 255);

/**
 * Renders layers (each `{ inside(x, y) → bool, color(x, y) → [r,g,b] }`, in unit coordinates
 * 0..1) with 4×4 supersampling, compositing "over".
 */
function render(size, layers) {
  const pixels = new Float32Array(size * size * 4);
  const samples = 4;
  for (let py = 0; py < size; py += 1) {
    for (let px = 0; px < size; px += 1) {
      let r = 0;
      let g = 0;
      let b = 0;
      let a = 0;
      for (let sy = 0; sy < samples; sy += 1) {
        for (let sx = 0; sx < samples; sx += 1) {
          const x = (px + (sx + 0.5) / samples) / size;
          const y = (py + (sy + 0.5) / samples) / size;
          let sr = 0;
          let sg = 0;
          let sb = 0;
          let sa = 0;
          for (const layer of layers) {
            if (!layer.inside(x, y)) continue;
            const [lr, lg, lb] = layer.color(x, y);
            const la = layer.alpha ?? 1;
            sr = lr * la + sr * (1 - la);
            sg = lg * la + sg * (1 - la);
            sb = lb * la + sb * (1 - la);
            sa = la + sa * (1 - la);
          }
          r += sr;
          g += sg;
          b += sb;
          a += sa;
        }
      }
      const n = samples * samples;
      const i = (py * size + px) * 4;
      // Un-premultiply the averaged colour.
      pixels[i] = a > 0 ? r / a : 0;
      pixels[i + 1] = a > 0 ? g / a : 0;
      pixels[i + 2] = a > 0 ? b / a : 0;
      pixels[i + 3] = a / n;
    }
  }
  return pixels;
}

const circle = (cx, cy, radius) => (x, y) => (x - cx) ** 2 + (y - cy) ** 2 <= radius ** 2;
const ring = (cx, cy, outer, inner) => (x, y) => {
  const d = (x - cx) ** 2 + (y - cy) ** 2;
  return d <= outer ** 2 && d >= inner ** 2;
};
const roundedSquare = (inset, radius) => (x, y) => {
  const min = inset;
  const max = 1 - inset;
  if (x < min || x > max || y < min || y > max) return false;
  const cx = Math.min(Math.max(x, min + radius), max - radius);
  const cy = Math.min(Math.max(y, min + radius), max - radius);
  return (x - cx) ** 2 + (y - cy) ** 2 <= radius ** 2;
};

const indigo = hex('#3457d5');
const teal = hex('#22a39a');
const white = [1, 1, 1];
const mix = (from, to, t) => from.map((value, i) => value + (to[i] - value) * t);

function appIcon(size) {
  return render(size, [
    {
      inside: roundedSquare(0.06, 0.2),
      color: (x, y) => mix(indigo, teal, Math.min(1, Math.max(0, (x + y - 0.12) / 1.76))),
    },
    { inside: ring(0.5, 0.5, 0.27, 0.19), color: () => white },
    { inside: circle(0.5, 0.5, 0.075), color: () => white },
  ]);
}

const trayColours = {
  connected: hex('#2e9e5b'),
  attention: hex('#e0a100'),
  error: hex('#d64545'),
  'signed-out': hex('#8a94a3'),
};

function trayIcon(size, level) {
  const colour = trayColours[level];
  if (level === 'signed-out') {
    return render(size, [{ inside: ring(0.5, 0.5, 0.44, 0.3), color: () => colour }]);
  }
  return render(size, [
    { inside: circle(0.5, 0.5, 0.46), color: () => colour },
    { inside: ring(0.5, 0.5, 0.27, 0.17), color: () => white },
  ]);
}

function write(file, size, pixels) {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, encodePng(size, pixels));
  console.log(`wrote ${path.relative(process.cwd(), file)} (${size}×${size})`);
}

write(path.join(here, 'icon.png'), 1024, appIcon(1024));
for (const size of [16, 32, 48, 64, 128, 256, 512]) {
  write(path.join(here, 'icons', `${size}x${size}.png`), size, appIcon(size));
}
for (const level of Object.keys(trayColours)) {
  write(path.join(here, 'tray', `${level}.png`), 16, trayIcon(16, level));
  write(path.join(here, 'tray', `${level}@2x.png`), 32, trayIcon(32, level));
}
