// Just enough of the D-Bus wire format to ask a bus a few questions without a D-Bus library: encode a
// method call whose arguments are strings and uint32s, and decode the fixed header of a reply. The
// Secret Service probe needs nothing more, and a pure-Node client is the only way to bound the probe
// in time (the native keyring blocks the calling thread while it connects).

export const MESSAGE_METHOD_CALL = 1;
export const MESSAGE_METHOD_RETURN = 2;
export const MESSAGE_ERROR = 3;
export const MESSAGE_SIGNAL = 4;

/** Header flag: a call to a name nobody owns must fail instead of starting (activating) a service. */
export const FLAG_NO_AUTO_START = 0x2;

const FIELD_PATH = 1;
const FIELD_INTERFACE = 2;
const FIELD_MEMBER = 3;
const FIELD_ERROR_NAME = 4;
const FIELD_REPLY_SERIAL = 5;
const FIELD_DESTINATION = 6;
const FIELD_SIGNATURE = 8;

/** Replies the probe reads are tiny; anything bigger means we are not talking to a D-Bus peer. */
const MAX_MESSAGE = 1 << 20;

export type Arg = { type: 's'; value: string } | { type: 'u'; value: number };

export interface MethodCall {
  serial: number;
  destination: string;
  path: string;
  interface: string;
  member: string;
  args?: Arg[];
  flags?: number;
}

export interface Message {
  type: number;
  serial: number;
  replySerial?: number;
  errorName?: string;
  /** Of a signal (or call): which one, for a watcher that subscribed to a few. */
  path?: string;
  interface?: string;
  member?: string;
  signature: string;
  body: Buffer;
  littleEndian: boolean;
}

/** A little-endian marshaller; D-Bus lets the sender choose its byte order. */
class Writer {
  private buf = Buffer.alloc(256);
  pos = 0;

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  align(n: number): void {
    const pad = (n - (this.pos % n)) % n;
    this.room(pad);
    this.buf.fill(0, this.pos, this.pos + pad);
    this.pos += pad;
  }
  byte(v: number): void {
    this.room(1);
    this.buf[this.pos++] = v;
  }
  uint32(v: number): void {
    this.align(4);
    this.room(4);
    this.buf.writeUInt32LE(v >>> 0, this.pos);
    this.pos += 4;
  }
  setUint32(at: number, v: number): void {
    this.buf.writeUInt32LE(v >>> 0, at);
  }
  /** `s` and `o`: uint32 length, UTF-8 bytes, NUL. */
  string(v: string): void {
    const bytes = Buffer.from(v, 'utf8');
    this.uint32(bytes.length);
    this.raw(bytes);
    this.byte(0);
  }
  /** `g`: byte length, ASCII, NUL. */
  signature(v: string): void {
    this.byte(v.length);
    this.raw(Buffer.from(v, 'ascii'));
    this.byte(0);
  }
  raw(bytes: Buffer): void {
    this.room(bytes.length);
    bytes.copy(this.buf, this.pos);
    this.pos += bytes.length;
  }
  done(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

export function encodeMethodCall(call: MethodCall): Buffer {
  const args = call.args ?? [];
  // The body starts 8-aligned, so aligning within its own buffer equals aligning in the message.
  const body = new Writer();
  for (const a of args) {
    if (a.type === 's') body.string(a.value);
    else body.uint32(a.value);
  }
  const bodyBytes = body.done();
  const signature = args.map((a) => a.type).join('');

  const w = new Writer();
  w.byte('l'.charCodeAt(0));
  w.byte(MESSAGE_METHOD_CALL);
  w.byte(call.flags ?? 0);
  w.byte(1); // protocol version
  w.uint32(bodyBytes.length);
  w.uint32(call.serial);
  const lengthAt = w.pos;
  w.uint32(0); // header-field array length, patched below
  w.align(8);
  const fieldsStart = w.pos;
  const field = (code: number, sig: 'o' | 's' | 'g', value: string): void => {
    w.align(8);
    w.byte(code);
    w.signature(sig);
    if (sig === 'g') w.signature(value);
    else w.string(value);
  };
  field(FIELD_PATH, 'o', call.path);
  field(FIELD_INTERFACE, 's', call.interface);
  field(FIELD_MEMBER, 's', call.member);
  field(FIELD_DESTINATION, 's', call.destination);
  if (signature) field(FIELD_SIGNATURE, 'g', signature);
  w.setUint32(lengthAt, w.pos - fieldsStart);
  w.align(8);
  w.raw(bodyBytes);
  return w.done();
}

export class WireError extends Error {}

const align = (pos: number, n: number): number => pos + ((n - (pos % n)) % n);

/** Decodes the first complete message in `buf`, or returns undefined when more bytes are needed. */
export function decodeMessage(buf: Buffer): { message: Message; size: number } | undefined {
  if (buf.length < 16) return undefined;
  const endian = String.fromCharCode(buf[0]!);
  if (endian !== 'l' && endian !== 'B') throw new WireError('not a D-Bus message (bad byte-order mark)');
  const le = endian === 'l';
  const u32 = (at: number): number => {
    if (at + 4 > buf.length) throw new WireError('truncated D-Bus header');
    return le ? buf.readUInt32LE(at) : buf.readUInt32BE(at);
  };
  const bodyLength = u32(4);
  const fieldsLength = u32(12);
  const headerEnd = align(16 + fieldsLength, 8);
  const size = headerEnd + bodyLength;
  if (size > MAX_MESSAGE) throw new WireError('D-Bus message too large for a probe');
  if (buf.length < size) return undefined;

  const message: Message = {
    type: buf[1]!,
    serial: u32(8),
    signature: '',
    body: buf.subarray(headerEnd, size),
    littleEndian: le,
  };
  let pos = 16;
  const end = 16 + fieldsLength;
  while (pos < end) {
    pos = align(pos, 8);
    const code = buf[pos++]!;
    const sigLength = buf[pos++]!;
    const sig = buf.toString('ascii', pos, pos + sigLength);
    pos += sigLength + 1;
    let value: string | number;
    if (sig === 's' || sig === 'o') {
      pos = align(pos, 4);
      const n = u32(pos);
      value = buf.toString('utf8', pos + 4, pos + 4 + n);
      pos += 4 + n + 1;
    } else if (sig === 'g') {
      const n = buf[pos]!;
      value = buf.toString('ascii', pos + 1, pos + 1 + n);
      pos += n + 2;
    } else if (sig === 'u' || sig === 'h') {
      pos = align(pos, 4);
      value = u32(pos);
      pos += 4;
    } else {
      throw new WireError(`unexpected D-Bus header field type "${sig}"`);
    }
    if (code === FIELD_REPLY_SERIAL && typeof value === 'number') message.replySerial = value;
    else if (code === FIELD_ERROR_NAME && typeof value === 'string') message.errorName = value;
    else if (code === FIELD_SIGNATURE && typeof value === 'string') message.signature = value;
    else if (code === FIELD_PATH && typeof value === 'string') message.path = value;
    else if (code === FIELD_INTERFACE && typeof value === 'string') message.interface = value;
    else if (code === FIELD_MEMBER && typeof value === 'string') message.member = value;
  }
  return { message, size };
}

/** Reads the body of a reply whose signature is `s` or `o`. */
export function readStringBody(m: Message): string {
  if ((m.signature !== 's' && m.signature !== 'o') || m.body.length < 4) throw new WireError('expected a string reply');
  const n = m.littleEndian ? m.body.readUInt32LE(0) : m.body.readUInt32BE(0);
  return m.body.toString('utf8', 4, 4 + n);
}

/** Reads the body of a reply whose signature is `v` holding a `b` (a property Get of a boolean). */
export function readVariantBoolBody(m: Message): boolean {
  // v = signature "b" (1 length byte + 'b' + NUL), padding to 4, uint32 0 or 1.
  if (m.signature !== 'v' || m.body.length < 8 || m.body.toString('ascii', 0, 3) !== '\x01b\x00') {
    throw new WireError('expected a boolean property');
  }
  return (m.littleEndian ? m.body.readUInt32LE(4) : m.body.readUInt32BE(4)) !== 0;
}

/** Reads the body of a reply whose signature is `u`. */
export function readUint32Body(m: Message): number {
  if (m.signature !== 'u' || m.body.length < 4) throw new WireError('expected a uint32 reply');
  return m.littleEndian ? m.body.readUInt32LE(0) : m.body.readUInt32BE(0);
}
