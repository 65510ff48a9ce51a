// Builds a trivial pure-Python wheel in memory. Offline `pip wheel` would need the `wheel` package
// (setuptools' bdist_wheel), which this machine's Python lacks; a wheel is just a zip with a
// dist-info, so we write the zip ourselves (stored, not deflated: simplest valid form).
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';

export interface Wheel {
  filename: string;
  data: Buffer;
  sha256: string;
}

/** A minimal zip writer: stored entries, no extras, fixed timestamps (stable bytes). */
export function zip(entries: Array<[name: string, data: Buffer]>): Buffer {
  const DOS_DATE_1980_01_01 = (1 << 5) | 1;
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of entries) {
    const n = Buffer.from(name);
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0, 8); // method: stored
    local.writeUInt16LE(0, 10); // time
    local.writeUInt16LE(DOS_DATE_1980_01_01, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(n.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by: Unix, so the mode below is honoured
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0, 10);
    central.writeUInt16LE(0, 12);
    central.writeUInt16LE(DOS_DATE_1980_01_01, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(n.length, 28);
    central.writeUInt32LE((0o100644 << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    locals.push(local, n, data);
    centrals.push(central, n);
    offset += local.length + n.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

/** `name` is the distribution name with `_`, e.g. `credmux_probe`. */
export function buildWheel(name: string, version: string): Wheel {
  const distInfo = `${name}-${version}.dist-info`;
  const files: Array<[string, Buffer]> = [
    [`${name}/__init__.py`, Buffer.from(`VERSION = ${JSON.stringify(version)}\n`)],
    [`${distInfo}/METADATA`, Buffer.from(`Metadata-Version: 2.1\nName: ${name.replace(/_/g, '-')}\nVersion: ${version}\n`)],
    [`${distInfo}/WHEEL`, Buffer.from('Wheel-Version: 1.0\nGenerator: credmux-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n')],
  ];
  const b64 = (d: Buffer) => createHash('sha256').update(d).digest('base64url');
  const record = files.map(([p, d]) => `${p},sha256=${b64(d)},${d.length}`).join('\n') + `\n${distInfo}/RECORD,,\n`;
  files.push([`${distInfo}/RECORD`, Buffer.from(record)]);
  const data = zip(files);
  return {
    filename: `${name}-${version}-py3-none-any.whl`,
    data,
    sha256: createHash('sha256').update(data).digest('hex'),
  };
}
