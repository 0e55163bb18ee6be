'use strict';
// Peer: the express-session way of serving the same JSON API.
// STORE=memory uses express-session's MemoryStore; STORE=redis uses connect-redis
// over node-redis. Options as the express-session README recommends
// (resave: false, saveUninitialized: false).
//
// As sessiondemo does: the same paths, bodies and statuses; CSRF checked on every
// unsafe request against a token in its own cookie (X-CSRF-Token, as Pyramid's
// CookieCSRFStoragePolicy does), GET /api/csrf minting it; bcrypt at the
// benchmark's rounds on every login (compare) and registration (hash), on the
// native bcrypt package; a new session on login (regenerate), destroyed on logout.
// Not: no users database (any username logs in with the benchmark password,
// checked against one hash made at start-up), no revocation, no per-user index,
// no request validation, no login throttle. The session holds the username.
const crypto = require('crypto');
const bcrypt = require('bcrypt');
const express = require('express');
const session = require('express-session');

const port = Number(process.env.PORT);
const password = process.env.BENCH_PASSWORD || 'benchmark password';
const rounds = Number(process.env.BENCH_BCRYPT_ROUNDS || 4);
const passwordHash = bcrypt.hashSync(password, rounds);
const CSRF_COOKIE = 'csrf_token';
const app = express();

const fail = (res, status, code) => res.status(status).json({ error: { code, message: code } });

function csrfCookie(req) {
  for (const part of (req.headers.cookie || '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === CSRF_COOKIE) return part.slice(at + 1).trim();
  }
  return undefined;
}

// Mounted before the session middleware: the public endpoint touches no session.
app.get('/api/csrf', (req, res) => {
  let token = csrfCookie(req);
  if (!token) {
    token = crypto.randomBytes(20).toString('hex');
    res.cookie(CSRF_COOKIE, token, { sameSite: 'lax', path: '/' });
  }
  res.json({ csrf_token: token });
});
app.get('/healthz', (req, res) => res.json({ status: 'ok' }));
// For the memory probe: readings after a full collection (node --expose-gc).
app.get('/__bench__/gc', (req, res) => {
  if (global.gc) global.gc();
  res.json({ collected: Boolean(global.gc) });
});

app.use((req, res, next) => {
  if (['GET', 'HEAD', 'OPTIONS'].includes(req.method)) return next();
  const expected = Buffer.from(csrfCookie(req) || '');
  const given = Buffer.from(req.get('X-CSRF-Token') || '');
  if (!expected.length || expected.length !== given.length ||
      !crypto.timingSafeEqual(expected, given)) return fail(res, 403, 'bad_csrf');
  next();
});

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

function credentials(req) {
  const { username, password: given } = req.body || {};
  if (typeof username !== 'string' || !username || typeof given !== 'string') return null;
  return { username, given };
}

function logIn(req, res, username, status) {
  req.session.regenerate((err) => {
    if (err) return fail(res, 503, 'store_unavailable');
    req.session.user = username;
    res.status(status).json({ user: { username } });
  });
}

app.post('/api/register', async (req, res) => {
  const found = credentials(req);
  if (!found) return fail(res, 400, 'invalid_input');
  await bcrypt.hash(found.given, rounds);    // what registering costs; the hash is not kept
  logIn(req, res, found.username, 201);
});

app.post('/api/login', async (req, res) => {
  const found = credentials(req);
  if (!found || !(await bcrypt.compare(found.given, passwordHash))) {
    return fail(res, 401, 'invalid_credentials');
  }
  logIn(req, res, found.username, 200);
});

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

app.get('/api/greet', (req, res) => {
  if (!req.session.user) return fail(res, 401, 'unauthenticated');
  const name = (req.session.data || {}).name;
  res.json({ message: `hello ${typeof name === 'string' && name ? name : req.session.user}` });
});

app.post('/api/logout', (req, res) => {
  req.session.destroy(() => {
    res.clearCookie('sid');
    res.json({ message: 'logged out' });
  });
});

app.listen(port, '127.0.0.1');
