/**
 * The errors R2 answers (Miniflare's local R2 words them as R2 does), and how
 * workerd's binding reports them: `Error("<action>: <message> (<code>)")`.
 */

/** An error of the R2 service, before the binding names the action. */
export class R2ServiceError extends Error {
  override name = "R2ServiceError";
  readonly v4code: number;

  constructor(message: string, v4code: number) {
    super(message);
    this.v4code = v4code;
  }
}

export const noSuchKey = () => new R2ServiceError("The specified key does not exist.", 10007);
export const internalError = () => new R2ServiceError("We encountered an internal error. Please try again.", 10001);
export const entityTooLarge = () => new R2ServiceError("Your proposed upload exceeds the maximum allowed object size.", 100100);
export const entityTooSmall = () => new R2ServiceError("Your proposed upload is smaller than the minimum allowed object size.", 10011);
export const metadataTooLarge = () => new R2ServiceError("Your metadata headers exceed the maximum allowed metadata size.", 10012);
export const invalidObjectName = () => new R2ServiceError("The specified object name is not valid.", 10020);
export const invalidMaxKeys = () => new R2ServiceError("MaxKeys params must be positive integer <= 1000.", 10022);
export const noSuchUpload = () => new R2ServiceError("The specified multipart upload does not exist.", 10024);
export const invalidPart = () => new R2ServiceError("One or more of the specified parts could not be found.", 10025);
export const invalidRange = () => new R2ServiceError("The requested range is not satisfiable", 10039);
export const badUpload = () => new R2ServiceError("There was a problem with the multipart upload.", 10048);

/** A checksum given to `put()` that the bytes received do not have. */
export function badDigest(algorithm: string, provided: Buffer, calculated: Buffer): R2ServiceError {
  return new R2ServiceError(
    [
      `The ${algorithm} checksum you specified did not match what we received.`,
      `You provided a ${algorithm} checksum with value: ${provided.toString("hex")}`,
      `Actual ${algorithm} was: ${calculated.toString("hex")}`,
    ].join("\n"),
    10037,
  );
}

/** Runs a service operation; its R2 errors become the binding's `Error("<action>: <message> (<code>)")`. */
export async function asBindingError<T>(action: string, operation: () => T | Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof R2ServiceError) throw new Error(`${action}: ${error.message} (${error.v4code})`);
    throw error;
  }
}
