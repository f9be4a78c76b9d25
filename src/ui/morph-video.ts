/**
 * Records the explore morph as a WebM video: the browser's own encoder (WebCodecs, VP9, else VP8)
 * through mediabunny, which muxes the frames into WebM. Imported only when a person saves a morph,
 * so the page's first load does not carry it.
 */
import { VideoUnsupportedError } from '../shared/errors';

/** Frames per second of the saved video: 21 morph frames play for about two seconds. */
export const MORPH_VIDEO_FPS = 10;

/**
 * Encodes one video frame from the canvas each time `play`'s callback is awaited (once per painted
 * morph frame) and returns the finished file.
 */
export async function recordMorph(canvas: HTMLCanvasElement, play: (frame: () => Promise<void>) => Promise<unknown>): Promise<Blob> {
  const { BufferTarget, CanvasSource, Output, QUALITY_HIGH, WebMOutputFormat, canEncodeVideo } = await import('mediabunny');
  if (typeof VideoEncoder === 'undefined') throw new VideoUnsupportedError('no WebCodecs VideoEncoder');
  const size = { width: canvas.width, height: canvas.height };
  const codec = (await canEncodeVideo('vp9', size)) ? 'vp9' : (await canEncodeVideo('vp8', size)) ? 'vp8' : null;
  if (!codec) throw new VideoUnsupportedError('neither VP9 nor VP8 can be encoded here');
  const output = new Output({ format: new WebMOutputFormat(), target: new BufferTarget() });
  const source = new CanvasSource(canvas, { codec, bitrate: QUALITY_HIGH });
  output.addVideoTrack(source, { frameRate: MORPH_VIDEO_FPS });
  await output.start();
  let frames = 0;
  try {
    await play(async () => {
      await source.add(frames / MORPH_VIDEO_FPS, 1 / MORPH_VIDEO_FPS);
      frames += 1;
    });
  } catch (err) {
    await output.cancel();
    throw err;
  }
  await output.finalize();
  const buffer = output.target.buffer;
  if (!buffer || frames === 0) throw new VideoUnsupportedError('the encoder produced no video');
  return new Blob([buffer], { type: 'video/webm' });
}
