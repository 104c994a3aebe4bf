/**
 * Files of the artifact store (Grad-CAM images, reports) by their path under it. The path is
 * taken from the raw request (not a normalised URL) and refused unless every segment is a
 * plain name; the resolved file must lie inside the store even after symlinks. The file is
 * opened by the lookup, so what is served is what was checked: a file removed or made
 * unreadable after the check is either served whole from the open handle or not found.
 */
import { constants } from 'node:fs';
import { type FileHandle, open, realpath } from 'node:fs/promises';
import { extname, join, sep } from 'node:path';

const CONTENT_TYPES: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.log': 'text/plain; charset=utf-8',
  '.csv': 'text/csv; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.pdf': 'application/pdf',
};

export type ArtifactLookup =
  | { found: true; handle: FileHandle; contentType: string; size: number }
  | { found: false; status: 400 | 404; message: string };

/** `encodedPath` is the request path after /artifacts/, still percent-encoded. */
export async function findArtifact(
  artifactsDir: string | undefined,
  encodedPath: string,
): Promise<ArtifactLookup> {
  if (artifactsDir === undefined) {
    return { found: false, status: 404, message: 'this leaderboard serves no artifacts' };
  }
  let segments: string[];
  try {
    segments = encodedPath.split('/').map(decodeURIComponent);
  } catch {
    return {
      found: false,
      status: 400,
      message: 'the artifact path is not valid percent-encoding',
    };
  }
  const plain = segments.every((s) => s !== '' && s !== '.' && s !== '..' && !/[/\\\0]/.test(s));
  if (!plain) {
    return {
      found: false,
      status: 400,
      message:
        'an artifact path is a relative path of plain names (no "..", "." or empty segments)',
    };
  }
  const notFound = { found: false, status: 404, message: 'no such artifact' } as const;
  try {
    const root = await realpath(artifactsDir);
    const file = await realpath(join(root, ...segments));
    if (!file.startsWith(root + sep)) return notFound;
    // Opened before anything is answered: an unreadable file (EACCES) is not found, not an
    // error on a stream after the headers went out. Non-blocking, so that a FIFO put in
    // the store cannot hold the open (and a thread of the pool) until a writer comes.
    const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
    const info = await handle.stat().catch(() => undefined);
    if (!info?.isFile()) {
      await handle.close();
      return notFound;
    }
    const contentType = CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
    return { found: true, handle, contentType, size: info.size };
  } catch {
    return notFound;
  }
}
