/**
 * The reference floor of bench/dns/run.ts: a Node UDP server that does no
 * DNS work at all. Each datagram goes back as an empty NOERROR answer (QR
 * and RA set on the query itself), the way our listener sends (one
 * `socket.send` with a callback per answer). Whatever it cannot exceed, no
 * Node resolver on node:dgram can either.
 *
 *   taskset -c 0 node bench/dns/echo.ts <port>
 */
import { createSocket } from 'node:dgram';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) throw new Error('usage: echo.ts <port>');
const socket = createSocket('udp4');
socket.on('message', (message, remote) => {
  if (message.length < 12) return;
  message[2] = ((message[2] ?? 0) | 0x80) & 0xf9; // QR; AA and TC clear
  message[3] = 0x80; // RA, rcode NOERROR
  socket.send(message, remote.port, remote.address, () => {});
});
socket.on('error', (err) => {
  console.error('echo.ts:', err);
  process.exit(1);
});
socket.bind(port, '127.0.0.1');
process.on('SIGTERM', () => socket.close(() => process.exit(0)));
