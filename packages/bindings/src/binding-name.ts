import { z } from "zod";

/** A binding's name in the wrangler config: it becomes `env.<name>`, so it must be a JavaScript identifier. */
export const bindingName = z.string().regex(/^[A-Za-z_$][\w$]*$/, "must be a JavaScript identifier (it becomes env.<name>)");

/** One line per key of a config entry that the schema does not know (`where` is the entry's path). */
export function unknownKeys(entry: object, known: object, where: string, file: string): string[] {
  return Object.keys(entry)
    .filter((key) => !(key in known))
    .map((key) => `${file}: unknown key "${where}.${key}" is ignored.`);
}
