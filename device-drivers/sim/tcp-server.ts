// Modbus TCP server of the simulator, on node:net. Written here rather than on modbus-serial's
// ServerTCP because the simulator must be able to stay silent, answer late, answer with any
// exception, and serve many unit ids with their own register maps.
import net from 'node:net';
import { exceptionPdu, type SimUnits } from './modbus-handler.js';

export interface SimTcpServerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 picks a free port (read it back from `port`). */
  port: number;
  /**
   * What a request for a unit nobody serves gets: exception 11 (gateway target failed to respond,
   * what a Modbus TCP gateway answers) by default, or silence.
   */
  unknownUnit?: 'gateway-exception' | 'silence';
}

export class SimTcpServer {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly units: SimUnits,
    private readonly options: SimTcpServerOptions,
  ) {
    this.server = net.createServer((socket) => this.serve(socket));
  }

  listen(): Promise<{ host: string; port: number }> {
    const host = this.options.host ?? '127.0.0.1';
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, host, () => {
        this.server.off('error', reject);
        resolve({ host, port: this.port });
      });
    });
  }

  get port(): number {
    const addr = this.server.address();
    return typeof addr === 'object' && addr ? addr.port : 0;
  }

  /** Drops every open client connection (a fault: the gateway rebooted, a NAT forgot us). */
  dropConnections(): void {
    for (const s of this.sockets) s.destroy();
  }

  close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.dropConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private serve(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 7) {
        const length = buf.readUInt16BE(4);
        if (length < 2 || length > 254 || buf.readUInt16BE(2) !== 0) {
          socket.destroy(); // not Modbus: no way to find the next frame boundary
          return;
        }
        if (buf.length < 6 + length) break;
        const tid = buf.readUInt16BE(0);
        const unit = buf[6] ?? 0;
        const pdu = Buffer.from(buf.subarray(7, 6 + length));
        buf = buf.subarray(6 + length);
        this.respond(socket, tid, unit, pdu);
      }
    });
  }

  private respond(socket: net.Socket, tid: number, unit: number, pdu: Buffer): void {
    const decision = this.units.handle(unit, pdu);
    let reply: Buffer;
    let delayMs = 0;
    if (decision.kind === 'silence') return;
    if (decision.kind === 'no-such-unit') {
      if (this.options.unknownUnit === 'silence') return;
      reply = exceptionPdu(pdu[0] ?? 0, 11);
    } else {
      reply = decision.pdu;
      delayMs = decision.delayMs;
    }
    const frame = Buffer.alloc(7 + reply.length);
    frame.writeUInt16BE(tid, 0);
    frame.writeUInt16BE(0, 2);
    frame.writeUInt16BE(reply.length + 1, 4);
    frame[6] = unit;
    reply.copy(frame, 7);
    const send = () => {
      if (!socket.destroyed) socket.write(frame);
    };
    if (delayMs <= 0) {
      send();
      return;
    }
    const t = setTimeout(() => {
      this.timers.delete(t);
      send();
    }, delayMs);
    this.timers.add(t);
  }
}
