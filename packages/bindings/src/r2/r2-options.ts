/**
 * workerd's conversions of the R2 binding's options (r2-bucket.c++), with its
 * errors: struct fields of the wrong type, ranges, conditionals from objects or
 * Headers, checksums, HTTP metadata from objects or Headers.
 */
import { argumentTypeError } from "../conversions.ts";
import { HASHES, type HashField } from "./blob-files.ts";

/** R2's HTTP metadata, every field present (undefined when unset), as the binding returns it. */
export interface HttpMetadata {
  contentType: string | undefined;
  contentLanguage: string | undefined;
  contentDisposition: string | undefined;
  contentEncoding: string | undefined;
  cacheControl: string | undefined;
  cacheExpiry: Date | undefined;
}

/** An ETag condition: `*`, or a value compared strongly or weakly. */
export type Etag = { type: "wildcard" } | { type: "strong" | "weak"; value: string };

/** A conditional request, converted. Times are milliseconds since the epoch. */
export interface Conditional {
  etagMatches?: Etag[];
  etagDoesNotMatch?: Etag[];
  uploadedBefore?: number;
  uploadedAfter?: number;
  secondsGranularity: boolean;
}

/** A requested range: offset/length/suffix, or a Range header to parse against the size. */
export type RangeRequest = { offset?: number; length?: number; suffix?: number } | { header: string };

function fieldTypeError(field: string, struct: string, type: string): TypeError {
  return new TypeError(`Incorrect type for the '${field}' field on '${struct}': the provided value is not of type '${type}'.`);
}

/** JSG's NonCoercible<String> field: a string or absent. */
export function stringField(value: unknown, field: string, struct: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string") throw fieldTypeError(field, struct, "string");
  return value;
}

function isDictionary(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !(value instanceof Headers);
}

/** An options argument: a dictionary, or nothing (null, undefined); anything else is workerd's TypeError. */
export function optionsArgument(value: unknown, method: string, position: number, type: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) throw argumentTypeError(method, "R2Bucket", position, type);
  return value as Record<string, unknown>;
}

function dateField(value: unknown, field: string, struct: string): number | undefined {
  if (value === undefined) return undefined;
  if (!(value instanceof Date)) throw fieldTypeError(field, struct, "date");
  return value.getTime();
}

/** HTTP metadata from `{ contentType, … }` or from request Headers. */
export function httpMetadataOption(value: unknown): HttpMetadata {
  if (value instanceof Headers) {
    const expires = value.get("expires");
    return {
      contentType: value.get("content-type") ?? undefined,
      contentLanguage: value.get("content-language") ?? undefined,
      contentDisposition: value.get("content-disposition") ?? undefined,
      contentEncoding: value.get("content-encoding") ?? undefined,
      cacheControl: value.get("cache-control") ?? undefined,
      cacheExpiry: expires === null ? undefined : new Date(Date.parse(expires)),
    };
  }
  if (!isDictionary(value)) throw fieldTypeError("httpMetadata", "PutOptions", "HttpMetadata or Headers");
  const text = (f: string) => {
    const v = value[f];
    return v === undefined ? undefined : String(v);
  };
  const expiry = dateField(value.cacheExpiry, "cacheExpiry", "HttpMetadata");
  return {
    contentType: text("contentType"),
    contentLanguage: text("contentLanguage"),
    contentDisposition: text("contentDisposition"),
    contentEncoding: text("contentEncoding"),
    cacheControl: text("cacheControl"),
    cacheExpiry: expiry === undefined ? undefined : new Date(expiry),
  };
}

/** Empty HTTP metadata, as the binding shows it for an object stored without any. */
export function emptyHttpMetadata(): HttpMetadata {
  return {
    contentType: undefined,
    contentLanguage: undefined,
    contentDisposition: undefined,
    contentEncoding: undefined,
    cacheControl: undefined,
    cacheExpiry: undefined,
  };
}

/** Custom metadata: a dictionary whose values become strings. */
export function customMetadataOption(value: unknown, struct: string): Record<string, string> {
  if (typeof value !== "object" || value === null) throw fieldTypeError("customMetadata", struct, "object");
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, String(v)]));
}

/** The checksum given to `put()`, as bytes: at most one algorithm, hex of the right length or a buffer. */
export function checksumOption(options: Record<string, unknown>): { field: HashField; bytes: Buffer } | undefined {
  let found: { field: HashField; bytes: Buffer } | undefined;
  for (const { field, name } of HASHES) {
    const value = options[field];
    if (value === undefined) continue;
    if (found !== undefined) throw new TypeError("You cannot specify multiple hashing algorithms.");
    const bytes = { md5: 16, sha1: 20, sha256: 32, sha384: 48, sha512: 64 }[field];
    if (typeof value === "string") {
      if (value.length !== bytes * 2) throw new TypeError(`${name} is ${bytes * 2} hex characters, not ${value.length}`);
      if (!/^[0-9a-fA-F]*$/.test(value)) throw new TypeError(`Provided ${name} wasn't a valid hex string`);
      found = { field, bytes: Buffer.from(value, "hex") };
    } else if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) {
      const buffer = value instanceof ArrayBuffer ? Buffer.from(value) : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      if (buffer.byteLength !== bytes) throw new TypeError(`${name} is ${bytes} bytes, not ${buffer.byteLength}`);
      found = { field, bytes: Buffer.from(buffer) };
    } else throw fieldTypeError(field, "PutOptions", "ArrayBuffer or ArrayBufferView or string");
  }
  return found;
}

/** A range from `{ offset, length, suffix }` (checked as workerd checks it) or from Headers (their Range header). */
export function rangeOption(value: unknown): RangeRequest | undefined {
  if (value === undefined) return undefined;
  if (value instanceof Headers) {
    const header = value.get("range");
    return header === null ? undefined : { header };
  }
  if (!isDictionary(value)) throw fieldTypeError("range", "GetOptions", "Range or Headers");
  const num = (v: unknown) => (v === undefined ? undefined : Number(v));
  const offset = num(value.offset);
  const length = num(value.length);
  const suffix = num(value.suffix);
  if (offset !== undefined) {
    if (!(offset >= 0)) throw new RangeError(`Invalid range. Starting offset (${offset}) must be greater than or equal to 0.`);
    if (!Number.isInteger(offset)) throw new RangeError(`Invalid range. Starting offset (${offset}) must be an integer, not floating point.`);
  }
  if (length !== undefined) {
    if (!(length >= 0)) throw new RangeError(`Invalid range. Length (${length}) must be greater than or equal to 0.`);
    if (!Number.isInteger(length)) throw new RangeError(`Invalid range. Length (${length}) must be an integer, not floating point.`);
  }
  if (suffix !== undefined) {
    if (offset !== undefined) throw new TypeError("Suffix is incompatible with offset.");
    if (length !== undefined) throw new TypeError("Suffix is incompatible with length.");
    if (!(suffix >= 0)) throw new RangeError(`Invalid suffix. Suffix (${suffix}) must be greater than or equal to 0.`);
    if (!Number.isInteger(suffix)) throw new RangeError(`Invalid range. Suffix (${suffix}) must be an integer, not floating point.`);
  }
  return { ...(offset !== undefined ? { offset } : {}), ...(length !== undefined ? { length } : {}), ...(suffix !== undefined ? { suffix } : {}) };
}

function isQuoted(etag: string): boolean {
  return etag.startsWith('"') && etag.endsWith('"');
}

function singleEtag(value: string): Etag[] {
  return value === "*" ? [{ type: "wildcard" }] : [{ type: "strong", value }];
}

/** workerd's parser of If-Match / If-None-Match: quoted strong etags, W/"…" weak ones, `*`, separated by commas. */
function parseEtagHeader(header: string): Etag[] {
  const out: Etag[] = [];
  let rest = header;
  let commaRequired = false;
  for (;;) {
    rest = rest.replace(/^[ \t]+/, "");
    if (rest === "") return out;
    const c = rest[0];
    if (c === ",") {
      rest = rest.slice(1);
      commaRequired = false;
    } else if (c === "*") {
      if (commaRequired) throw new Error("Comma was expected to separate etags. Encountered a wildcard character '*' instead.");
      out.push({ type: "wildcard" });
      rest = rest.slice(1);
      commaRequired = true;
    } else if (c === "W") {
      if (commaRequired)
        throw new Error(
          "Comma was expected to separate etags. Encountered a weak quotation character 'W' instead. This would otherwise indicate the start of a new weak etag.",
        );
      if (!(rest.length > 2 && rest[1] === "/" && rest[2] === '"')) throw new Error("Weak etags must start with W/ and their value must be quoted");
      rest = rest.slice(3);
      const close = rest.indexOf('"');
      if (close < 0) throw new Error("Unclosed double quote for Etag");
      out.push({ type: "weak", value: rest.slice(0, close) });
      rest = rest.slice(close + 1);
      commaRequired = true;
    } else if (c === '"') {
      if (commaRequired)
        throw new Error(
          `Comma was expected to separate etags. Encountered a double quote character '"' instead. This would otherwise indicate the start of a new strong etag.`,
        );
      rest = rest.slice(1);
      const close = rest.indexOf('"');
      if (close < 0) throw new Error("Unclosed double quote for Etag");
      out.push({ type: "strong", value: rest.slice(0, close) });
      rest = rest.slice(close + 1);
      commaRequired = true;
    } else return out;
  }
}

/** A conditional from `{ etagMatches, … }` or from request Headers (second granularity, as HTTP dates have). */
export function conditionalOption(value: unknown, struct: string): Conditional | undefined {
  if (value === undefined) return undefined;
  if (value instanceof Headers) {
    const c: Conditional = { secondsGranularity: true };
    const ifMatch = value.get("if-match");
    if (ifMatch !== null) {
      c.etagMatches = parseEtagHeader(ifMatch);
      if (c.etagMatches.length === 0) throw new Error("Invalid ETag in if-match header");
    }
    const ifNoneMatch = value.get("if-none-match");
    if (ifNoneMatch !== null) {
      c.etagDoesNotMatch = parseEtagHeader(ifNoneMatch);
      if (c.etagDoesNotMatch.length === 0) throw new Error("Invalid ETag in if-none-match header");
    }
    const since = value.get("if-modified-since");
    if (since !== null) c.uploadedAfter = Date.parse(since);
    const unmodified = value.get("if-unmodified-since");
    if (unmodified !== null) c.uploadedBefore = Date.parse(unmodified);
    return c;
  }
  if (!isDictionary(value)) throw fieldTypeError("onlyIf", struct, "Conditional or Headers");
  const c: Conditional = { secondsGranularity: value.secondsGranularity === undefined ? false : Boolean(value.secondsGranularity) };
  const matches = stringField(value.etagMatches, "etagMatches", "Conditional");
  if (matches !== undefined) {
    if (isQuoted(matches)) throw new TypeError(`Conditional ETag should not be wrapped in quotes (${matches}).`);
    c.etagMatches = singleEtag(matches);
  }
  const doesNotMatch = stringField(value.etagDoesNotMatch, "etagDoesNotMatch", "Conditional");
  if (doesNotMatch !== undefined) {
    if (isQuoted(doesNotMatch)) throw new TypeError(`Conditional ETag should not be wrapped in quotes (${doesNotMatch}).`);
    c.etagDoesNotMatch = singleEtag(doesNotMatch);
  }
  const after = dateField(value.uploadedAfter, "uploadedAfter", "Conditional");
  if (after !== undefined) c.uploadedAfter = after;
  const before = dateField(value.uploadedBefore, "uploadedBefore", "Conditional");
  if (before !== undefined) c.uploadedBefore = before;
  return c;
}

function includesEtag(conditions: Etag[], etag: string, comparison: "strong" | "weak"): boolean {
  return conditions.some((c) => c.type === "wildcard" || (c.value === etag && (c.type === "strong" || comparison === "weak")));
}

/** Whether an object (or its absence) meets a conditional, by RFC 7232's rules as R2 applies them. */
export function meetsConditional(c: Conditional, object: { etag: string; uploaded: number } | undefined): boolean {
  if (object === undefined) return c.etagMatches === undefined && c.uploadedAfter === undefined;
  const truncate = (ms: number) => (c.secondsGranularity ? Math.floor(ms / 1000) * 1000 : ms);
  const lastModified = truncate(object.uploaded);
  const ifMatch = c.etagMatches === undefined || includesEtag(c.etagMatches, object.etag, "strong");
  const ifNoneMatch = c.etagDoesNotMatch === undefined || !includesEtag(c.etagDoesNotMatch, object.etag, "weak");
  const ifModifiedSince = c.uploadedAfter === undefined || truncate(c.uploadedAfter) < lastModified || (c.etagDoesNotMatch !== undefined && ifNoneMatch);
  const ifUnmodifiedSince = c.uploadedBefore === undefined || lastModified < truncate(c.uploadedBefore) || (c.etagMatches !== undefined && ifMatch);
  return ifMatch && ifNoneMatch && ifModifiedSince && ifUnmodifiedSince;
}
