import fs from 'node:fs';
import QRCode from 'qrcode';

/**
 * Writes a Y4M video (YUV4MPEG2, 4:2:0) showing `text` as a QR code, for Chromium's
 * `--use-file-for-fake-video-capture=<file>`: the fake camera then loops these frames.
 * Black modules are luma 16, white 235 (video range), chroma planes neutral (128).
 */
export function writeQrY4m(file: string, text: string, opts: { size?: number; frames?: number } = {}): void {
  const size = opts.size ?? 640; // even, for 4:2:0 chroma subsampling
  const qr = QRCode.create(text, { errorCorrectionLevel: 'M' });
  const modules = qr.modules.size;
  const quiet = 4;
  const scale = Math.floor(size / (modules + 2 * quiet));
  const offset = Math.floor((size - modules * scale) / 2);
  const luma = Buffer.alloc(size * size, 235);
  for (let row = 0; row < modules; row++) {
    for (let col = 0; col < modules; col++) {
      if (!qr.modules.get(row, col)) continue;
      for (let y = 0; y < scale; y++) {
        const start = (offset + row * scale + y) * size + offset + col * scale;
        luma.fill(16, start, start + scale);
      }
    }
  }
  const chroma = Buffer.alloc((size / 2) * (size / 2) * 2, 128);
  const frame = Buffer.concat([Buffer.from('FRAME\n'), luma, chroma]);
  const header = Buffer.from(`YUV4MPEG2 W${size} H${size} F30:1 Ip A1:1 C420jpeg\n`);
  fs.writeFileSync(file, Buffer.concat([header, ...Array<Buffer>(opts.frames ?? 2).fill(frame)]));
}
