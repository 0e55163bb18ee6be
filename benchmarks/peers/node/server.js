'use strict';
// Peer: the express-session way of serving the same authenticated read.
// STORE=memory uses express-session's MemoryStore; STORE=redis uses connect-redis
// over node-redis. Options as the express-session README recommends
// (resave: false, saveUninitialized: false). Any username logs in with the
// benchmark password; the session holds the username.
const express = require('express');
const session = require('express-session');

const port = Number(process.env.PORT);
const password = process.env.BENCH_PASSWORD || 'benchmark password';
const app = express();

// Mounted before the session middleware: the public endpoint touches no session.
app.get('/api/csrf', (req, res) => res.json({ csrf_token: 'peer-does-not-check' }));
app.get('/healthz', (req, res) => res.json({ status: 'ok' }));

let store; // undefined: express-session's MemoryStore
if (process.env.STORE === 'redis') {
  const { createClient } = require('redis');
  const RedisStore = require('connect-redis').default;
  const client = createClient({ url: process.env.REDIS_URL });
  client.on('error', (err) => console.error('redis', err.message));
  client.connect();
  store = new RedisStore({ client });
}

app.use(express.json({ limit: '1mb' }));
app.use(session({
  secret: process.env.BENCH_SECRET,
  name: 'sid',
  resave: false,
  saveUninitialized: false,
  store,
  cookie: { httpOnly: true, sameSite: 'lax' },
}));

const fail = (res, status, code) => res.status(status).json({ error: { code, message: code } });

function login(req, res) {
  const { username, password: given } = req.body || {};
  if (!username || given !== password) return fail(res, 401, 'invalid_credentials');
  req.session.regenerate((err) => {
    if (err) return fail(res, 503, 'store_unavailable');
    req.session.user = username;
    res.status(req.path.endsWith('register') ? 201 : 200).json({ user: { username } });
  });
}
app.post('/api/login', login);
app.post('/api/register', login);

app.get('/api/me', (req, res) => {
  if (!req.session.user) return fail(res, 401, 'unauthenticated');
  res.json({ user: { username: req.session.user } });
});

app.get('/api/session/data', (req, res) => {
  if (!req.session.user) return fail(res, 401, 'unauthenticated');
  res.json({ data: req.session.data || {} });
});

app.patch('/api/session/data', (req, res) => {
  if (!req.session.user) return fail(res, 401, 'unauthenticated');
  const data = { ...(req.session.data || {}) };
  for (const [key, value] of Object.entries(req.body || {})) {
    if (value === null) delete data[key]; else data[key] = value;
  }
  req.session.data = data;
  res.json({ data });
});

app.post('/api/logout', (req, res) => {
  req.session.destroy(() => {
    res.clearCookie('sid');
    res.json({ message: 'logged out' });
  });
});

app.listen(port, '127.0.0.1');
