// Traffic for the firewall's netns tests, run inside the lab's namespaces with `node`:
//   serve PORT...              TCP servers on :: (IPv4 and IPv6; 0.0.0.0 where IPv6 is off); each
//                              connection gets "hello LOCAL-ADDRESS REMOTE-ADDRESS", each line it sends "echo LOCAL-ADDRESS LINE"
//   connect HOST PORT [MS] [SRC]  prints the server's first line; exit 1 (and the error) when it
//                              cannot connect within MS (default 1500); from source address SRC if given
//   session HOST PORT          keeps one connection: stdin lines go to the server, its lines to stdout
import { createConnection, createServer } from 'node:net';
import { createInterface } from 'node:readline';

const [mode, ...args] = process.argv.slice(2);
const bare = (a) => (a ?? '').replace(/^::ffff:/, '');

if (mode === 'serve') {
  let ready = 0;
  for (const port of args.map(Number)) {
    const server = createServer((socket) => {
      const local = bare(socket.localAddress);
      socket.write(`hello ${local} ${bare(socket.remoteAddress)}\n`);
      createInterface({ input: socket }).on('line', (line) => socket.write(`echo ${local} ${line}\n`));
      socket.on('error', () => socket.destroy());
    });
    const listening = () => {
      if (++ready === args.length) console.log('listening');
    };
    server.once('error', (error) => {
      if (error.code !== 'EAFNOSUPPORT' && error.code !== 'EADDRNOTAVAIL') throw error;
      server.listen(port, '0.0.0.0', listening);
    });
    server.listen(port, '::', listening);
  }
} else if (mode === 'connect') {
  const [host, port, ms = '1500', localAddress] = args;
  const socket = createConnection({ host, port: Number(port), ...(localAddress ? { localAddress } : {}) });
  const timer = setTimeout(() => {
    console.log('ERR timeout');
    process.exit(1);
  }, Number(ms));
  const failed = (error) => {
    console.log(`ERR ${error.code ?? error.message}`);
    process.exit(1);
  };
  // readline re-emits the socket's error on Node 20: both must be handled.
  createInterface({ input: socket })
    .once('line', (line) => {
      clearTimeout(timer);
      console.log(line);
      socket.destroy();
      process.exit(0);
    })
    .on('error', failed);
  socket.on('error', failed);
} else if (mode === 'session') {
  const [host, port] = args;
  const socket = createConnection({ host, port: Number(port) });
  createInterface({ input: socket }).on('line', (line) => console.log(line));
  createInterface({ input: process.stdin }).on('line', (line) => socket.write(line + '\n'));
  socket.on('error', (error) => {
    console.log(`ERR ${error.code ?? error.message}`);
    process.exit(1);
  });
  socket.on('close', () => process.exit(0));
} else {
  console.error('usage: firewall-tools.mjs serve PORT... | connect HOST PORT [MS] | session HOST PORT');
  process.exit(2);
}
