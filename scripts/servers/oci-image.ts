// Builds a tiny OCI image layout on disk by hand (one gzip'd tar layer with one file, a config, a
// manifest, an index), so the registry can be seeded with `skopeo copy oci:…` and no network.
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** A ustar archive holding regular files (enough for a layer). */
export function tarFiles(files: Record<string, string>): Buffer {
  const blocks: Buffer[] = [];
  for (const [name, text] of Object.entries(files)) {
    const body = Buffer.from(text);
    const h = Buffer.alloc(512);
    const put = (s: string, off: number, len: number) => h.write(s, off, len, 'latin1');
    const octal = (n: number, len: number) => n.toString(8).padStart(len - 1, '0') + '\0';
    put(name, 0, 100);
    put(octal(0o644, 8), 100, 8);
    put(octal(0, 8), 108, 8); // uid
    put(octal(0, 8), 116, 8); // gid
    put(octal(body.length, 12), 124, 12);
    put(octal(0, 12), 136, 12); // mtime: fixed, so the digest is stable
    put('        ', 148, 8); // checksum is computed with this field as spaces
    put('0', 156, 1); // regular file
    put('ustar\u000000', 257, 8);
    let sum = 0;
    for (const byte of h) sum += byte;
    put(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8);
    blocks.push(h, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024)); // two zero blocks end the archive
  return Buffer.concat(blocks);
}

/** Writes an OCI layout at `dir` with one image tagged `tag`; returns the manifest digest. */
export async function writeOciLayout(dir: string, tag: string): Promise<string> {
  const blobs = join(dir, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  const blob = async (data: Buffer | string, mediaType: string) => {
    const digest = sha256(data);
    await writeFile(join(blobs, digest), data);
    return { mediaType, digest: `sha256:${digest}`, size: Buffer.byteLength(data) };
  };

  const tar = tarFiles({ 'hello.txt': 'credmux test image\n' });
  const layer = await blob(gzipSync(tar), 'application/vnd.oci.image.layer.v1.tar+gzip');
  const config = await blob(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: {},
      rootfs: { type: 'layers', diff_ids: [`sha256:${sha256(tar)}`] },
    }),
    'application/vnd.oci.image.config.v1+json',
  );
  const manifest = await blob(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config,
      layers: [layer],
    }),
    'application/vnd.oci.image.manifest.v1+json',
  );
  await writeFile(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ ...manifest, annotations: { 'org.opencontainers.image.ref.name': tag } }],
    }),
  );
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  return manifest.digest;
}
