import { afterOutputGate } from "@torpor/core";
import { argumentTypeError, toInt32 } from "../conversions.ts";
import type { BlobSource } from "./blob-files.ts";
import type { BucketStore } from "./bucket-store.ts";
import type { ObjectRow } from "./bucket-index.ts";
import { asBindingError } from "./r2-errors.ts";
import { R2_LIMITS } from "./r2-limits.ts";
import { GetResult, HeadResult, type R2Range } from "./r2-object.ts";
import {
  checksumOption,
  conditionalOption,
  customMetadataOption,
  emptyHttpMetadata,
  httpMetadataOption,
  optionsArgument,
  rangeOption,
  stringField,
  type HttpMetadata,
} from "./r2-options.ts";

const IFACE = "R2Bucket";
const PUT_VALUE = "ReadableStream or ArrayBuffer or ArrayBufferView or string or Blob";

/** `list()`'s result. */
export interface R2Objects {
  objects: HeadResult[];
  truncated: boolean;
  cursor: string | undefined;
  delimitedPrefixes: string[];
}

/** HTTP metadata as stored: JSON with the expiry in milliseconds. */
export function encodeHttpMetadata(m: HttpMetadata): string {
  return JSON.stringify({ ...m, cacheExpiry: m.cacheExpiry?.getTime() });
}

function decodeHttpMetadata(json: string): HttpMetadata {
  const m = JSON.parse(json) as Partial<Record<keyof HttpMetadata, unknown>>;
  return {
    contentType: m.contentType as string | undefined,
    contentLanguage: m.contentLanguage as string | undefined,
    contentDisposition: m.contentDisposition as string | undefined,
    contentEncoding: m.contentEncoding as string | undefined,
    cacheControl: m.cacheControl as string | undefined,
    cacheExpiry: typeof m.cacheExpiry === "number" ? new Date(m.cacheExpiry) : undefined,
  };
}

/** The binding's view of a stored object; `range` as given, metadata as stored unless overridden. */
export function objectFields(row: ObjectRow, range: R2Range | undefined, metadata?: { http?: HttpMetadata; custom?: Record<string, string> }) {
  const checksums = JSON.parse(row.checksums) as Record<string, string>;
  // A whole-object MD5 is the etag; multipart etags (`<hex>-<n>`) are not one.
  if (/^[0-9a-f]{32}$/.test(row.etag)) checksums.md5 = row.etag;
  return {
    key: row.key,
    version: row.version,
    size: row.size,
    etag: row.etag,
    uploaded: new Date(row.uploaded),
    checksums,
    httpMetadata: metadata?.http ?? decodeHttpMetadata(row.http_metadata),
    customMetadata: metadata?.custom ?? (JSON.parse(row.custom_metadata) as Record<string, string>),
    range,
  };
}

function keyArgument(method: string, args: unknown[]): string {
  if (args.length < 1 || args[0] === undefined || typeof args[0] === "symbol") throw argumentTypeError(method, IFACE, 1, "string");
  return String(args[0]);
}

/** A value `put()` and `uploadPart()` take, as bytes or a stream of them; null is empty. */
export function putValue(method: string, iface: string, position: number, value: unknown, args: unknown[]): BlobSource {
  if (value === null && method === "put" && args.length >= position) return new Uint8Array(0);
  if (typeof value === "string") return Buffer.from(value, "utf8");
  if (value instanceof ArrayBuffer) return new Uint8Array(value.slice(0));
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength));
  if (value instanceof ReadableStream) return value as unknown as AsyncIterable<unknown>;
  if (value instanceof Blob) return value.stream() as unknown as AsyncIterable<unknown>;
  throw argumentTypeError(method, iface, position, PUT_VALUE);
}

/**
 * An R2 bucket binding (`env.MY_BUCKET`), as workerd's R2Bucket with Miniflare's local
 * R2 behind it: `head`, `get` (ranges, conditionals), `put` (HTTP and custom metadata,
 * checksums, conditionals), `delete`, `list` (prefix, delimiter, cursor, startAfter,
 * include) and multipart uploads, with their results and errors. Writes (put, delete and
 * every multipart step) wait for the calling Durable Object's output gate, as workerd's
 * do (its R2 PUT requests wait for the output locks); head, get and list do not.
 */
export class R2Bucket {
  readonly #store: BucketStore;

  /** @internal made by the R2 plugin for each `r2_buckets` entry. */
  constructor(store: BucketStore) {
    this.#store = store;
  }

  /** The object's metadata, or null. */
  async head(...args: unknown[]): Promise<HeadResult | null> {
    const key = keyArgument("head", args);
    return asBindingError("head", () => {
      const row = this.#store.head(key);
      return row === undefined ? null : new HeadResult(objectFields(row, { offset: 0, length: row.size, suffix: undefined }));
    });
  }

  /** The object with its body (a range of it), its metadata only when `onlyIf` fails, or null. */
  async get(...args: unknown[]): Promise<GetResult | HeadResult | null> {
    const key = keyArgument("get", args);
    const options = optionsArgument(args[1], "get", 2, "GetOptions");
    const onlyIf = conditionalOption(options.onlyIf, "GetOptions");
    const range = rangeOption(options.range);
    return asBindingError("get", async () => {
      const outcome = await this.#store.get(key, onlyIf, range);
      if (outcome.kind === "missing") return null;
      if (outcome.kind === "precondition-failed") return new HeadResult(objectFields(outcome.row, { offset: 0, length: outcome.row.size, suffix: undefined }));
      return new GetResult(objectFields(outcome.row, { offset: outcome.offset, length: outcome.length, suffix: undefined }), outcome.body);
    });
  }

  /** Stores the value (at most 5 GiB - 5 MiB); its metadata, or null when `onlyIf` fails. */
  async put(...args: unknown[]): Promise<HeadResult | null> {
    const key = keyArgument("put", args);
    if (args.length < 2 || args[1] === undefined) throw argumentTypeError("put", IFACE, 2, PUT_VALUE);
    const source = putValue("put", IFACE, 2, args[1], args);
    const options = optionsArgument(args[2], "put", 3, "PutOptions");
    const onlyIf = conditionalOption(options.onlyIf, "PutOptions");
    const custom = options.customMetadata === undefined ? {} : customMetadataOption(options.customMetadata, "PutOptions");
    const http = options.httpMetadata === undefined ? emptyHttpMetadata() : httpMetadataOption(options.httpMetadata);
    const checksum = checksumOption(options);
    if (options.storageClass !== undefined) String(options.storageClass);
    return asBindingError("put", async () => {
      const row = await afterOutputGate(() =>
        this.#store.put(key, source, { httpMetadata: encodeHttpMetadata(http), customMetadata: custom, checksum, onlyIf }),
      );
      // The binding returns the metadata it sent, as workerd does.
      return row === null ? null : new HeadResult(objectFields(row, undefined, { http, custom }));
    });
  }

  /** Deletes one key or several; missing keys are fine. */
  async delete(...args: unknown[]): Promise<void> {
    const keys = args[0];
    if (args.length < 1 || keys === undefined || typeof keys === "symbol") throw argumentTypeError("delete", IFACE, 1, "string or Array");
    const list = Array.isArray(keys) ? keys.map(String) : [String(keys)];
    await asBindingError("delete", () => afterOutputGate(async () => this.#store.delete(list)));
  }

  /** Lists objects in key order: up to `limit` (1000; 100 with `include`), with `delimitedPrefixes` for a delimiter. */
  async list(options?: unknown): Promise<R2Objects> {
    const o = optionsArgument(options, "list", 1, "ListOptions");
    const limit = o.limit === undefined ? undefined : toInt32(o.limit);
    const prefix = stringField(o.prefix, "prefix", "ListOptions") ?? "";
    const cursor = stringField(o.cursor, "cursor", "ListOptions");
    const delimiter = stringField(o.delimiter, "delimiter", "ListOptions");
    const startAfter = stringField(o.startAfter, "startAfter", "ListOptions");
    let include: string[] = [];
    if (o.include !== undefined) {
      if (!Array.isArray(o.include)) throw new TypeError("Incorrect type for the 'include' field on 'ListOptions': the provided value is not of type 'Array'.");
      include = o.include.map((i) => stringField(i, "include", "ListOptions")!);
      for (const i of include) if (i !== "httpMetadata" && i !== "customMetadata") throw new RangeError(`Unsupported include value ${i}`);
    }
    return asBindingError("list", () => {
      // -1 is the request's default for "no limit given".
      const page = this.#store.list({ prefix, limit: limit === -1 ? undefined : limit, cursor, startAfter, delimiter, withMetadata: include.length > 0 });
      const withHttp = include.includes("httpMetadata");
      const withCustom = include.includes("customMetadata");
      return {
        objects: page.rows.map(
          (row) =>
            new HeadResult(
              objectFields(row, undefined, {
                ...(withHttp ? {} : { http: emptyHttpMetadata() }),
                ...(withCustom ? {} : { custom: {} }),
              }),
            ),
        ),
        truncated: page.truncated,
        cursor: page.cursor,
        delimitedPrefixes: page.delimitedPrefixes,
      };
    });
  }

  /** Starts a multipart upload to `key`, with the metadata the object will have. */
  async createMultipartUpload(...args: unknown[]): Promise<R2MultipartUpload> {
    const key = keyArgument("createMultipartUpload", args);
    const options = optionsArgument(args[1], "createMultipartUpload", 2, "MultipartOptions");
    const custom = options.customMetadata === undefined ? {} : customMetadataOption(options.customMetadata, "MultipartOptions");
    const http = options.httpMetadata === undefined ? emptyHttpMetadata() : httpMetadataOption(options.httpMetadata);
    return asBindingError("createMultipartUpload", () =>
      afterOutputGate(async () => new R2MultipartUpload(this.#store, key, await this.#store.createUpload(key, encodeHttpMetadata(http), custom))),
    );
  }

  /** An upload started earlier (by id); nothing is checked until it is used. */
  resumeMultipartUpload(...args: unknown[]): R2MultipartUpload {
    const key = keyArgument("resumeMultipartUpload", args);
    if (args.length < 2 || args[1] === undefined) throw argumentTypeError("resumeMultipartUpload", IFACE, 2, "string");
    return new R2MultipartUpload(this.#store, key, String(args[1]));
  }
}

/** One part of a multipart upload, as `uploadPart()` returns it and `complete()` takes it. */
export interface R2UploadedPart {
  partNumber: number;
  etag: string;
}

/** A multipart upload (`R2MultipartUpload`): upload parts, then complete (or abort) it. */
export class R2MultipartUpload {
  readonly #store: BucketStore;
  readonly key: string;
  readonly uploadId: string;

  /** @internal made by `createMultipartUpload` and `resumeMultipartUpload`. */
  constructor(store: BucketStore, key: string, uploadId: string) {
    this.#store = store;
    this.key = key;
    this.uploadId = uploadId;
  }

  /** Uploads part `partNumber` (1 to 10,000); every part but the last must be at least 5 MiB and all the same size. */
  async uploadPart(...args: unknown[]): Promise<R2UploadedPart> {
    const partNumber = toInt32(args[0]);
    const source = putValue("uploadPart", "R2MultipartUpload", 2, args[1], args);
    if (partNumber < 1 || partNumber > R2_LIMITS.maxPartNumber)
      throw new TypeError(`Part number must be between 1 and 10000 (inclusive). Actual value was: ${partNumber}`);
    return asBindingError("uploadPart", async () => ({
      partNumber,
      etag: await afterOutputGate(() => this.#store.uploadPart(this.key, this.uploadId, partNumber, source)),
    }));
  }

  /** Aborts the upload; a finished one is left as it is. */
  async abort(): Promise<void> {
    await asBindingError("abortMultipartUpload", () => afterOutputGate(async () => this.#store.abortUpload(this.key, this.uploadId)));
  }

  /** Joins the parts, in the order given, into the object. */
  async complete(uploadedParts: unknown): Promise<HeadResult> {
    if (!Array.isArray(uploadedParts)) throw argumentTypeError("complete", "R2MultipartUpload", 1, "Array");
    const parts = uploadedParts.map((p: { partNumber?: unknown; etag?: unknown }) => {
      const part = toInt32(p?.partNumber);
      if (part < 1 || part > R2_LIMITS.maxPartNumber) throw new TypeError(`Part number must be between 1 and 10000 (inclusive). Actual value was: ${part}`);
      return { part, etag: String(p?.etag) };
    });
    return asBindingError(
      "completeMultipartUpload",
      async () => new HeadResult(objectFields(await afterOutputGate(() => this.#store.completeUpload(this.key, this.uploadId, parts)), undefined)),
    );
  }
}
