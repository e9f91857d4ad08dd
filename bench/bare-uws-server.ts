/**
 * The ceiling for HTTP overhead: uWebSockets.js reading the whole body and answering a
 * fixed JSON, with none of Nereid's work. Run as its own process; prints its port.
 */
import uWS from 'uWebSockets.js';

const answer = process.argv[2] ?? '{}';
uWS
  .App()
  .any('/*', (res) => {
    res.onAborted(() => {});
    res.onData((_chunk, isLast) => {
      if (isLast) res.cork(() => res.writeHeader('Content-Type', 'application/json').end(answer));
    });
  })
  .listen('127.0.0.1', 0, (socket) => {
    if (!socket) process.exit(1);
    process.stdout.write(`${uWS.us_socket_local_port(socket)}\n`);
  });
