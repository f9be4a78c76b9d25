/**
 * Watches ORT's WebGPU device: a lost device (driver reset, out of memory) kills every session, so
 * the Generator asks `lost` before each run and reloads on WASM when it is true (wasm-fallback.ts).
 * A device destroyed on purpose (a model released) is not a loss.
 */
import { ortWebGpuDevice } from './session';

export class DeviceWatch {
  private lostSeen = false;

  get lost(): boolean {
    return this.lostSeen;
  }

  /** Starts watching the device of a model just loaded (backend 'wasm': nothing to watch). */
  watch(backend: string): void {
    this.lostSeen = false;
    if (backend !== 'webgpu') return;
    void (async () => {
      const info = await (await ortWebGpuDevice())?.lost;
      if (info && info.reason !== 'destroyed') this.lostSeen = true;
    })();
  }

  /** true if the device is lost now or within `ms` (a failed run may precede its loss event). */
  async lostWithin(ms: number): Promise<boolean> {
    if (this.lostSeen) return true;
    const device = await ortWebGpuDevice();
    if (!device) return false;
    const lost = device.lost.then((info) => info.reason !== 'destroyed');
    return Promise.race([lost, new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);
  }
}
