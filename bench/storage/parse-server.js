// Parse Server for bench/storage.sh: express + ParseServer mounted on /parse, on loopback,
// PARSE_WORKERS processes (node's cluster, one listening socket shared by the workers).
// Modules come from PARSE_DIR (the npm install made by bench/storage.sh).
// Settings (all from the environment): PARSE_DIR, PARSE_PORT, PARSE_WORKERS, PARSE_DB_URI,
// PARSE_APP_ID, PARSE_MASTER_KEY, PARSE_REST_KEY, PARSE_LOGS.
'use strict';
const cluster = require('node:cluster');
const path = require('node:path');
const { createRequire } = require('node:module');

const env = (name) => {
  const value = process.env[name];
  if (!value) { console.error(`parse-server.js: ${name} is not set`); process.exit(2); }
  return value;
};
const workers = Number(process.env.PARSE_WORKERS || 2);

if (cluster.isPrimary && workers > 1) {
  for (let i = 0; i < workers; i++) cluster.fork();
  let stopping = false;
  cluster.on('exit', (worker, code, signal) => {
    if (!stopping) {
      console.error(`parse worker ${worker.process.pid} exited (${signal || code}); stopping`);
      stopping = true;
      for (const w of Object.values(cluster.workers)) w.kill();
      process.exitCode = 1;
    }
  });
  const stop = () => {
    stopping = true;
    for (const w of Object.values(cluster.workers)) w.kill('SIGTERM');
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  const load = createRequire(path.join(env('PARSE_DIR'), 'package.json'));
  const express = load('express');
  const { ParseServer } = load('parse-server');
  const port = Number(env('PARSE_PORT'));
  (async () => {
    const server = new ParseServer({
      databaseURI: env('PARSE_DB_URI'),
      appId: env('PARSE_APP_ID'),
      masterKey: env('PARSE_MASTER_KEY'),
      restAPIKey: env('PARSE_REST_KEY'),
      serverURL: `http://127.0.0.1:${port}/parse`,
      masterKeyIps: ['127.0.0.1', '::1'],
      logsFolder: env('PARSE_LOGS'),
      logLevel: 'error',
      verbose: false,
      allowClientClassCreation: false,
      mountGraphQL: false,
    });
    await server.start();
    const app = express();
    app.use('/parse', server.app);
    const http = app.listen(port, '127.0.0.1');
    http.keepAliveTimeout = 65000;
    process.on('SIGTERM', () => http.close(() => process.exit(0)));
  })().catch((e) => { console.error('parse-server.js:', e); process.exit(1); });
}
