import type { Counter } from "./counter.ts";
import type { Room } from "./room.ts";

export interface Env {
  GREETING: string;
  COUNTER: DurableObjectNamespace<Counter>;
  ROOM: DurableObjectNamespace<Room>;
}
