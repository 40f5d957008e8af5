import { z } from "zod";

/** The `assets` key, as Cloudflare documents it. */
export const assetsSchema = z.looseObject({
  directory: z.string().min(1),
  binding: z
    .string()
    .regex(/^[A-Za-z_$][\w$]*$/, "must be a JavaScript identifier (it becomes env.<name>)")
    .optional(),
  html_handling: z.enum(["auto-trailing-slash", "force-trailing-slash", "drop-trailing-slash", "none"]).default("auto-trailing-slash"),
  not_found_handling: z.enum(["none", "404-page", "single-page-application"]).default("none"),
  run_worker_first: z.union([z.boolean(), z.array(z.string().min(1))]).default(false),
});

/** The parsed `assets` key. */
export type AssetsConfig = z.output<typeof assetsSchema>;
