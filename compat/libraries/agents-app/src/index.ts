// An agent written the way the Agents SDK's README writes one: initialState,
// setState synced to clients, @callable() methods, this.sql, and
// this.schedule(), routed with routeAgentRequest.
import { Agent, callable, routeAgentRequest } from "agents";

type Env = { Counter: DurableObjectNamespace<Counter> };

export type State = { count: number; fired: string[] };

export class Counter extends Agent<Env, State> {
  initialState: State = { count: 0, fired: [] };

  async onStart() {
    this.sql`CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY AUTOINCREMENT, text TEXT NOT NULL)`;
  }

  @callable()
  increment() {
    this.setState({ ...this.state, count: this.state.count + 1 });
    return this.state.count;
  }

  @callable()
  addNote(text: string) {
    this.sql`INSERT INTO notes (text) VALUES (${text})`;
    return this.sql<{ text: string }>`SELECT text FROM notes ORDER BY id`.map((row) => row.text);
  }

  @callable()
  async remind(seconds: number, label: string) {
    const schedule = await this.schedule(seconds, "fire", { label });
    return schedule.id;
  }

  async fire(payload: { label: string }) {
    this.setState({ ...this.state, fired: [...this.state.fired, payload.label] });
  }
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    return (await routeAgentRequest(request, env)) ?? new Response("Not found", { status: 404 });
  },
} satisfies ExportedHandler<Env>;
