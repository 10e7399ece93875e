// One WebSocket to ws/events/: resumes from the last (epoch, seq) after a disconnect, with
// backoff; tells its state (live, reconnecting, resyncing) and hands each message on.
import { streamUrl } from "./api.js";

const FIRST_DELAY_MS = 250;
const MAX_DELAY_MS = 5000;

export class Stream {
  constructor({ onMessage, onResync, onState }) {
    this.onMessage = onMessage;
    this.onResync = onResync;
    this.onState = onState;
    this.cursor = null;
    this.delay = FIRST_DELAY_MS;
    this.socket = null;
    this.timer = null;
    this.opened = false;
  }

  open() {
    clearTimeout(this.timer);
    if (this.socket) this.socket.onclose = null, this.socket.close();
    const socket = new WebSocket(streamUrl(this.cursor));
    this.socket = socket;
    const again = this.opened;
    socket.onopen = () => {
      this.opened = true;
      this.delay = FIRST_DELAY_MS;
      this.onState("live");
      // Back without a cursor (nothing came before the cut): what was missed is unknown.
      if (again && !this.cursor) this.receive({ type: "resync", data: { reason: "no_cursor" } });
    };
    socket.onmessage = (frame) => this.receive(JSON.parse(frame.data));
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.onState("reconnecting");
      this.timer = setTimeout(() => this.open(), this.delay);
      this.delay = Math.min(this.delay * 2, MAX_DELAY_MS);
    };
  }

  async receive(message) {
    if (message.epoch !== undefined) this.cursor = { seq: message.seq, epoch: message.epoch };
    if (message.type === "resync" || message.type === "commit_unknown") {
      this.onState("resyncing");
      try {
        await this.onResync(message);
      } finally {
        if (this.socket && this.socket.readyState === WebSocket.OPEN) this.onState("live");
      }
      return;
    }
    this.onMessage(message);
  }
}
