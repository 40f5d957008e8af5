// A chat room written the way partyserver's README writes a server: a
// hibernating Server, per-connection state (connection.setState), and
// broadcast. Nothing here knows which runtime it runs on.
import { routePartykitRequest, Server, type Connection, type ConnectionContext, type WSMessage } from "partyserver";

type Env = { Chat: DurableObjectNamespace<Chat> };

/** What each connection remembers (kept by partyserver in the socket's attachment). */
type ChatState = { name: string; sent: number };

export class Chat extends Server<Env> {
  static options = { hibernate: true };

  /** Counts how often this instance was constructed and started (a wake starts it again). */
  starts = 0;

  onStart() {
    this.starts++;
  }

  onConnect(connection: Connection<ChatState>, ctx: ConnectionContext) {
    const name = new URL(ctx.request.url).searchParams.get("name") ?? "anonymous";
    connection.setState({ name, sent: 0 });
    connection.send(JSON.stringify({ type: "welcome", id: connection.id, room: this.name }));
  }

  onMessage(connection: Connection<ChatState>, message: WSMessage) {
    const state = connection.state!;
    const sent = state.sent + 1;
    connection.setState({ ...state, sent });
    this.broadcast(
      JSON.stringify({ type: "chat", from: state.name, sent, text: String(message), starts: this.starts, online: [...this.getConnections()].length }),
    );
  }
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    return (await routePartykitRequest(request, env)) || new Response("Not Found", { status: 404 });
  },
} satisfies ExportedHandler<Env>;
