/** Painting RGBA pixels and exporting them. */
import type { GeneratedImage } from '../shared/types';

export function paint(canvas: HTMLCanvasElement, image: GeneratedImage): void {
  if (canvas.width !== image.width) canvas.width = image.width;
  if (canvas.height !== image.height) canvas.height = image.height;
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  ctx.putImageData(new ImageData(new Uint8ClampedArray(image.pixels), image.width, image.height), 0, 0);
}

export function canvasToPng(canvas: HTMLCanvasElement): Promise<Blob> {
  return new Promise((resolve, reject) => canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('toBlob failed'))), 'image/png'));
}

export async function downloadPng(canvas: HTMLCanvasElement, name: string): Promise<void> {
  downloadBlob(await canvasToPng(canvas), name);
}

/** Saves a blob as a file through the browser's download (an object URL, revoked later). */
export function downloadBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
