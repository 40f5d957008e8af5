/**
 * The chat wire protocol: JSON text frames in both directions, validated with
 * zod on the server. The heartbeat is not JSON: the client sends the text
 * frame `ping` and the runtime answers `pong` without waking the room
 * (`setWebSocketAutoResponse`).
 */
import { z } from "zod";

/** Limits of the protocol. The browser client reads the same numbers from the welcome message. */
export const LIMITS = {
  /** Longest message text, in characters (after trimming). */
  maxTextLength: 2_000,
  /** Display names: 1–32 characters after trimming. */
  minNameLength: 1,
  maxNameLength: 32,
  /** Room names: 1–64 characters of `[a-z0-9_-]`. */
  maxRoomLength: 64,
  /** Messages sent with the welcome. */
  historyOnJoin: 50,
  /** Largest page a `history` request may ask for. */
  maxHistoryPage: 100,
  /** Per connection: at most `rateCount` frames in any `rateWindowMs` window (typing indicators do not count). */
  rateCount: 10,
  rateWindowMs: 5_000,
  /** Per connection: typing indicators closer together than this, with no message between, are dropped. */
  typingIntervalMs: 1_000,
} as const;

/** The heartbeat pair answered by the runtime without waking the room. */
export const HEARTBEAT = { request: "ping", response: "pong" } as const;

/** Room names as they appear in `/r/<room>`. */
export const roomNameSchema = z
  .string()
  .min(1)
  .max(LIMITS.maxRoomLength)
  .regex(/^[a-z0-9_-]+$/, "use only a-z, 0-9, '-' and '_'");

/**
 * Display names: trimmed, inner whitespace runs collapsed to one space, no
 * control characters, 1–32 characters.
 */
export const displayNameSchema = z
  .string()
  .transform((s) => s.trim().replace(/\s+/g, " "))
  .pipe(
    z
      .string()
      .min(LIMITS.minNameLength, "name is empty")
      .max(LIMITS.maxNameLength, `name is longer than ${LIMITS.maxNameLength} characters`)
      // biome-ignore lint/suspicious/noControlCharactersInRegex: the rule is exactly "no control characters"
      .regex(/^[^\u0000-\u001f\u007f]*$/, "name contains control characters"),
  );

/** An optional client-chosen user id (kept in localStorage) so tabs and reconnects of one person count once. */
export const userIdSchema = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/);

// ---------------------------------------------------------------- client → server

export const clientMessageSchema = z.object({
  type: z.literal("message"),
  text: z
    .string()
    .transform((s) => s.trim())
    .pipe(z.string().min(1, "text is empty").max(LIMITS.maxTextLength, `text is longer than ${LIMITS.maxTextLength} characters`)),
});
export const clientTypingSchema = z.object({ type: z.literal("typing") });
export const clientHistorySchema = z.object({
  type: z.literal("history"),
  /** Messages with an id lower than this one. */
  before: z.number().int().positive(),
  limit: z.number().int().min(1).max(LIMITS.maxHistoryPage).default(LIMITS.historyOnJoin),
});

/** Every frame a client may send (besides the `ping` heartbeat). */
export const clientFrameSchema = z.discriminatedUnion("type", [clientMessageSchema, clientTypingSchema, clientHistorySchema]);
export type ClientFrame = z.infer<typeof clientFrameSchema>;
export const CLIENT_FRAME_TYPES = ["message", "typing", "history"] as const;

// ---------------------------------------------------------------- server → client

export interface Member {
  id: string;
  name: string;
}

export interface ChatMessage {
  /** Increasing per room; the cursor for history paging. */
  id: number;
  text: string;
  author: Member;
  /** Milliseconds since the epoch (server clock). */
  ts: number;
}

/**
 * Stable error codes sent in `{type:"error"}` frames. The connection stays
 * open after every one of them.
 */
export const ERROR_CODES = {
  /** The frame was not valid JSON (or not a JSON object). */
  BAD_JSON: "bad_json",
  /** A binary frame; the protocol is text only. */
  BINARY_UNSUPPORTED: "binary_unsupported",
  /** `type` is missing or not one the server knows. */
  UNKNOWN_TYPE: "unknown_type",
  /** A known type with missing or malformed fields. */
  INVALID_MESSAGE: "invalid_message",
  /** Message text over `LIMITS.maxTextLength` characters. */
  TEXT_TOO_LONG: "text_too_long",
  /** More than `LIMITS.rateCount` frames (typing indicators aside) in `LIMITS.rateWindowMs`. */
  RATE_LIMITED: "rate_limited",
} as const;
export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

export type ServerFrame =
  | {
      type: "welcome";
      room: string;
      you: Member;
      members: Member[];
      history: ChatMessage[];
      /** True when older messages than `history[0]` exist. */
      hasMore: boolean;
      limits: { maxTextLength: number; rateCount: number; rateWindowMs: number };
    }
  | { type: "message"; message: ChatMessage }
  | { type: "joined"; member: Member; members: Member[] }
  | { type: "left"; member: Member; members: Member[] }
  /** Someone already here now shows another name (`from` was the old one). */
  | { type: "renamed"; member: Member; from: string; members: Member[] }
  | { type: "members"; members: Member[] }
  | { type: "typing"; member: Member }
  | { type: "history"; before: number; messages: ChatMessage[]; hasMore: boolean }
  | { type: "error"; code: ErrorCode; message: string };

/**
 * Parses one client frame into either a frame or a ready-to-send error. Kept
 * free of runtime APIs so it is easy to test and reuse.
 */
export function parseClientFrame(raw: string | ArrayBuffer): { ok: true; frame: ClientFrame } | { ok: false; code: ErrorCode; message: string } {
  if (typeof raw !== "string") {
    return { ok: false, code: ERROR_CODES.BINARY_UNSUPPORTED, message: "Binary frames are not supported; send JSON text." };
  }
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return { ok: false, code: ERROR_CODES.BAD_JSON, message: "The frame is not valid JSON." };
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    return { ok: false, code: ERROR_CODES.BAD_JSON, message: "The frame must be a JSON object with a `type`." };
  }
  const type = (data as { type?: unknown }).type;
  if (typeof type !== "string" || !(CLIENT_FRAME_TYPES as readonly string[]).includes(type)) {
    return {
      ok: false,
      code: ERROR_CODES.UNKNOWN_TYPE,
      message: `Unknown message type ${JSON.stringify(type ?? null)}; expected one of ${CLIENT_FRAME_TYPES.join(", ")}.`,
    };
  }
  const parsed = clientFrameSchema.safeParse(data);
  if (parsed.success) return { ok: true, frame: parsed.data };
  const tooLong = parsed.error.issues.find((i) => i.code === "too_big" && i.path[0] === "text");
  if (tooLong) {
    const length = typeof (data as { text?: unknown }).text === "string" ? (data as { text: string }).text.trim().length : 0;
    return {
      ok: false,
      code: ERROR_CODES.TEXT_TOO_LONG,
      message: `Message is ${length.toLocaleString("en-US")} characters; the limit is ${LIMITS.maxTextLength.toLocaleString("en-US")}.`,
    };
  }
  const first = parsed.error.issues[0];
  const where = first && first.path.length > 0 ? `${first.path.join(".")}: ` : "";
  return { ok: false, code: ERROR_CODES.INVALID_MESSAGE, message: `Invalid "${type}" message: ${where}${first?.message ?? "malformed"}.` };
}
