// Drives rtpgate with the npm package rtpengine-client (as drachtio/jambonz do).
//
//   node ngclient.js udp|tcp|ws TARGET STEPS_JSON
//
// TARGET is "host:port" (udp, tcp) or a ws:// URL.  STEPS_JSON is a list of [method, options]
// pairs (method names as the package has them: ping, offer, answer, query, list, statistics,
// delete, ...).  Each step's reply (or its error) goes into a list printed as one line
// "RESULTS <json>" (the package's TCP client prints its own lines on stdout).
'use strict';
const { Client, TcpClient, WsClient } = require('rtpengine-client');

const [transport, target, stepsJson] = process.argv.slice(2);
const steps = JSON.parse(stepsJson);
const TIMEOUT = 5000;

function makeClient() {
  if (transport === 'udp') return new Client({ timeout: TIMEOUT });
  if (transport === 'tcp') return new TcpClient({ hostport: target, timeout: TIMEOUT });
  if (transport === 'ws') return new WsClient({ url: target, timeout: TIMEOUT });
  throw new Error(`unknown transport ${transport}`);
}

async function main() {
  const client = makeClient();
  client.on('error', (err) => console.error(`client error: ${err}`));
  await new Promise((resolve) => client.once('listening', resolve));
  const [host, port] = transport === 'udp' ? target.split(/:(?=\d+$)/) : [];
  const results = [];
  for (const [method, options] of steps) {
    const args = transport === 'udp' ? [Number(port), host] : [];
    if (options) args.push(options);
    try {
      results.push({ reply: await client[method](...args) });
    } catch (err) {
      results.push({ error: String(err) });
    }
  }
  console.log(`RESULTS ${JSON.stringify(results)}`);
  if (transport === 'ws') client.socket.removeAllListeners('close');
  client.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
