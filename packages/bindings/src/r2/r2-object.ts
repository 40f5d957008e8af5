import { Readable } from "node:stream";
import type { HttpMetadata } from "./r2-options.ts";

const ALGORITHMS = ["md5", "sha1", "sha256", "sha384", "sha512"] as const;
type Algorithm = (typeof ALGORITHMS)[number];

/** An object's checksums: each an ArrayBuffer (a fresh copy per read) or undefined; `toJSON()` gives hex. */
export class Checksums {
  readonly #hex: Partial<Record<Algorithm, string>>;

  /** @internal */
  constructor(hex: Partial<Record<Algorithm, string>>) {
    this.#hex = hex;
  }

  get md5(): ArrayBuffer | undefined {
    return this.#bytes("md5");
  }
  get sha1(): ArrayBuffer | undefined {
    return this.#bytes("sha1");
  }
  get sha256(): ArrayBuffer | undefined {
    return this.#bytes("sha256");
  }
  get sha384(): ArrayBuffer | undefined {
    return this.#bytes("sha384");
  }
  get sha512(): ArrayBuffer | undefined {
    return this.#bytes("sha512");
  }

  /** Every algorithm as hex, undefined where unknown. */
  toJSON(): Record<Algorithm, string | undefined> {
    return { md5: this.#hex.md5, sha1: this.#hex.sha1, sha256: this.#hex.sha256, sha384: this.#hex.sha384, sha512: this.#hex.sha512 };
  }

  #bytes(algorithm: Algorithm): ArrayBuffer | undefined {
    const hex = this.#hex[algorithm];
    if (hex === undefined) return undefined;
    const buffer = Buffer.from(hex, "hex");
    return buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength) as ArrayBuffer;
  }
}

/** The part of an object a get returned (also the whole object's size for head); `suffix` is there, undefined, as on workerd. */
export interface R2Range {
  offset: number;
  length: number;
  suffix: undefined;
}

/** What an R2Object is made of. */
export interface ObjectFields {
  key: string;
  version: string;
  size: number;
  etag: string;
  uploaded: Date;
  checksums: Partial<Record<Algorithm, string>>;
  httpMetadata: HttpMetadata;
  customMetadata: Record<string, string>;
  range: R2Range | undefined;
}

/**
 * An object's metadata (`R2Object`; workerd's class is named HeadResult), from
 * `head`, `put`, `list`, a failed conditional `get` and `complete`.
 */
export class HeadResult {
  readonly key: string;
  readonly version: string;
  readonly size: number;
  readonly etag: string;
  readonly httpEtag: string;
  readonly checksums: Checksums;
  readonly uploaded: Date;
  readonly httpMetadata: HttpMetadata;
  readonly customMetadata: Record<string, string>;
  readonly range: R2Range | undefined;
  readonly storageClass: string;
  readonly ssecKeyMd5: string | undefined;

  /** @internal made by the R2 binding. */
  constructor(fields: ObjectFields) {
    this.key = fields.key;
    this.version = fields.version;
    this.size = fields.size;
    this.etag = fields.etag;
    this.httpEtag = `"${fields.etag}"`;
    this.checksums = new Checksums(fields.checksums);
    this.uploaded = fields.uploaded;
    this.httpMetadata = fields.httpMetadata;
    this.customMetadata = fields.customMetadata;
    this.range = fields.range;
    // Local R2 records no storage class.
    this.storageClass = "";
    this.ssecKeyMd5 = undefined;
  }

  /** Sets Content-Type, Content-Language, Content-Disposition, Content-Encoding, Cache-Control and Expires on `headers`. */
  writeHttpMetadata(headers: Headers): void {
    const m = this.httpMetadata;
    if (m.contentType !== undefined) headers.set("content-type", m.contentType);
    if (m.contentLanguage !== undefined) headers.set("content-language", m.contentLanguage);
    if (m.contentDisposition !== undefined) headers.set("content-disposition", m.contentDisposition);
    if (m.contentEncoding !== undefined) headers.set("content-encoding", m.contentEncoding);
    if (m.cacheControl !== undefined) headers.set("cache-control", m.cacheControl);
    if (m.cacheExpiry !== undefined) headers.set("expires", m.cacheExpiry.toUTCString());
  }
}

const USED = "Body has already been used. It can only be used once. Use tee() first if you need to read it twice.";

/** An object with its body (`R2ObjectBody`; workerd's class is named GetResult), from `get`. */
export class GetResult extends HeadResult {
  readonly #body: ReadableStream<Uint8Array>;

  /** @internal made by the R2 binding. */
  constructor(fields: ObjectFields, body: ReadableStream<Uint8Array>) {
    super(fields);
    this.#body = body;
  }

  get body(): ReadableStream<Uint8Array> {
    return this.#body;
  }

  get bodyUsed(): boolean {
    return Readable.isDisturbed(this.#body as unknown as NodeJS.ReadableStream);
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const bytes = await this.#read();
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  }

  async bytes(): Promise<Uint8Array> {
    return new Uint8Array(await this.#read());
  }

  async text(): Promise<string> {
    return new TextDecoder().decode(await this.#read());
  }

  async json<T = unknown>(): Promise<T> {
    return JSON.parse(await this.text()) as T;
  }

  async blob(): Promise<Blob> {
    return new Blob([new Uint8Array(await this.#read())], { type: this.httpMetadata.contentType ?? "" });
  }

  async #read(): Promise<Buffer> {
    if (this.bodyUsed || this.#body.locked) throw new TypeError(USED);
    const chunks: Uint8Array[] = [];
    for await (const chunk of this.#body as unknown as AsyncIterable<Uint8Array>) chunks.push(chunk);
    return Buffer.concat(chunks);
  }
}
