/**
 * The teacher's file for "compare with teacher": fetched once, on first ask, and kept until its
 * ORT session exists. From then on the session holds the weights (in wasm or GPU memory), so the
 * ~22 MB of bytes are dropped and only what the UI reports (source, repairs, resume) is kept.
 * A failed fetch is forgotten, so the next ask tries again.
 */
import type { LoadedFile } from './load-file';
import type { ProgressCallback } from '../../src/shared/types';

export type FileOrigin = Omit<LoadedFile, 'bytes'>;

export interface TeacherFile {
  /** The file's bytes (fetched on the first call, shared by concurrent calls); only before `sessionMade`. */
  bytes(onProgress: ProgressCallback): Promise<Uint8Array<ArrayBuffer>>;
  /** Where the file came from; fetches it if that has not happened yet. */
  info(onProgress: ProgressCallback): Promise<FileOrigin>;
  /** The session owns the weights now: let the bytes go. */
  sessionMade(): void;
}

export function teacherFile(load: (onProgress: ProgressCallback) => Promise<LoadedFile>): TeacherFile {
  let pending: Promise<LoadedFile> | null = null;
  let fetched: FileOrigin | null = null;
  let released = false;
  const fetchOnce = (onProgress: ProgressCallback) =>
    (pending ??= load(onProgress).then(
      (file) => {
        const { bytes: _bytes, ...info } = file;
        fetched = info;
        return file;
      },
      (err: unknown) => {
        pending = null;
        throw err;
      },
    ));
  return {
    async bytes(onProgress) {
      if (released) throw new Error('the teacher file was let go once its session existed');
      return (await fetchOnce(onProgress)).bytes;
    },
    async info(onProgress) {
      if (!released) await fetchOnce(onProgress);
      return fetched!;
    },
    sessionMade() {
      // Called after bytes() resolved, so `fetched` is set; dropping `pending` frees the bytes.
      if (!fetched) return;
      released = true;
      pending = null;
    },
  };
}
