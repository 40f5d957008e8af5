/**
 * What `import { EmailMessage } from "cloudflare:email"` gives Worker code
 * under Torpor. Messages can be built (libraries construct them); Torpor has
 * no Email Routing, so there is nothing to send them with: a `send_email`
 * binding in the config is a warning, and `env.<binding>.send()` throws.
 */
export class EmailMessage {
  readonly from: string;
  readonly to: string;
  readonly raw: ReadableStream | string;

  constructor(from: string, to: string, raw: ReadableStream | string) {
    this.from = from;
    this.to = to;
    this.raw = raw;
  }
}
