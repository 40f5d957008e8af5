/** Test helpers for the client end of a WebSocket from `response.webSocket`. */

/** The accepted client end of an upgrade response, with its messages queued as they arrive. */
export function accepted(response: Response): { ws: WebSocket; next(): Promise<string>; received: string[]; closed: Promise<CloseEvent> } {
  const ws = response.webSocket;
  if (response.status !== 101 || ws === null || ws === undefined) throw new Error(`Expected a WebSocket upgrade, got ${response.status}`);
  const received: string[] = [];
  const waiting: Array<(message: string) => void> = [];
  let read = 0;
  ws.addEventListener("message", (event) => {
    const message = typeof event.data === "string" ? event.data : new TextDecoder().decode(event.data as ArrayBuffer);
    received.push(message);
    waiting.shift()?.(message);
  });
  const closed = new Promise<CloseEvent>((resolve) => {
    ws.addEventListener("close", (event) => {
      resolve(event);
    });
  });
  ws.accept();
  return {
    ws,
    received,
    closed,
    next() {
      const index = read++;
      if (index < received.length) return Promise.resolve(received[index]!);
      return new Promise((resolve) => {
        waiting.push(resolve);
      });
    },
  };
}
