/** Writes raw bytes to a loopback port and resolves with everything the server sends until it closes the connection. */
import { connect } from 'node:net';

export function sendRaw(port: number, text: string, timeoutMs: number): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (d) => (answer += d));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
    socket.write(text);
    setTimeout(() => {
      socket.destroy();
      reject(new Error(`the connection was still open after ${timeoutMs} ms`));
    }, timeoutMs).unref();
  });
}
