// The fake world a generated script runs against under node: a clock that
// only sleep and requests move, and fakes of the gateway, of toxiproxy's
// API and of the ops chaos API that answer as the real ones do and record
// every request. Knobs (world.knobs) make them misbehave.

const PRODUCT_WORDS = ['sturdy', 'oak', 'table', 'linen', 'shirt', 'copper', 'kettle', 'wool', 'scarf', 'desk', 'lamp'];

export const world = {
  now: 1700000000000,
  knobs: {
    // Edges toxiproxy has proxies for.
    proxies: [],
    // Toxiproxy answers 500 to toxic creation.
    failToxics: false,
    // The first order of every token that setup handed out is answered 401.
    expireSetupTokens: false,
    // Requests take this long on the fake clock.
    latencyMs: 2,
  },
  scenario: { name: 'setup', startTime: 0, iterationInTest: 0 },
  requests: [],
  samples: [],
  checks: [],
  logs: [],
  metrics: {},

  users: {},
  tokens: {},
  tokenSeq: 0,
  setupTokens: {},
  orders: {},
  proxies: null,
  opsFaults: [],
  opsSeq: 0,

  scenarioTags() {
    return { scenario: this.scenario.name };
  },

  request(method, url, body, params) {
    const u = new URL(url);
    const headers = params.headers || {};
    const rec = {
      t: this.now,
      scenario: this.scenario.name,
      iteration: this.scenario.name === 'load' ? this.scenario.iterationInTest : null,
      method,
      origin: u.origin,
      path: u.pathname,
      query: Object.fromEntries(u.searchParams),
      body: body === null ? null : JSON.parse(body),
      headers,
      tags: { ...this.scenarioTags(), ...(params.tags || {}) },
      timeout: params.timeout || null,
      expected: params.responseCallback ? params.responseCallback.expectedStatuses : null,
    };
    let answer;
    if (u.port === '8080') {
      answer = this.gateway(method, u, rec.body, headers);
    } else if (u.port === '8474') {
      answer = this.toxiproxy(method, u, rec.body);
    } else if (u.port === '8090') {
      answer = this.ops(method, u, rec.body, headers);
    } else {
      answer = { status: 0, error: `dial ${u.host}: connection refused` };
    }
    rec.status = answer.status;
    this.requests.push(rec);
    this.now += this.knobs.latencyMs;
    const text = answer.json === undefined ? '' : JSON.stringify(answer.json);
    return {
      status: answer.status,
      error: answer.error || '',
      body: text,
      headers: {},
      json() {
        return JSON.parse(text);
      },
    };
  },

  catalog() {
    if (!this.products) {
      this.products = [];
      for (let i = 0; i < 130; i++) {
        const name = `${PRODUCT_WORDS[i % PRODUCT_WORDS.length]} ${PRODUCT_WORDS[(i * 7 + 3) % PRODUCT_WORDS.length]} ${i}`;
        this.products.push({ id: `p${String(i).padStart(3, '0')}`, name, category: 'home', price_cents: 100 + i, currency: 'USD', stock: i % 7 === 0 ? 0 : 10 });
      }
    }
    return this.products;
  },

  gateway(method, u, body, headers) {
    const fail = (status, code, message) => ({ status, json: { error: { code, message } } });
    if (body !== null && headers['Content-Type'] !== 'application/json') {
      return fail(415, 'unsupported_media_type', 'the body must be application/json');
    }
    const path = u.pathname;
    if (method === 'POST' && path === '/api/v1/auth/register') {
      if (!body.email || !body.password || !body.name) {
        return fail(400, 'invalid_argument', 'email, password and name are required');
      }
      if (this.users[body.email]) {
        return fail(409, 'conflict', 'email taken');
      }
      this.users[body.email] = body.password;
      return { status: 201, json: { id: `u${Object.keys(this.users).length}`, email: body.email, name: body.name } };
    }
    if (method === 'POST' && path === '/api/v1/auth/login') {
      if (this.users[body.email] !== body.password) {
        return fail(401, 'unauthenticated', 'bad credentials');
      }
      const token = `tok-${++this.tokenSeq}`;
      this.tokens[token] = body.email;
      if (this.scenario.name === 'setup') {
        this.setupTokens[token] = true;
      }
      return { status: 200, json: { token, expires_at: '2030-01-01T00:00:00Z', user: { email: body.email } } };
    }
    if (method === 'GET' && path === '/api/v1/products') {
      const limit = Number(u.searchParams.get('limit') || 20);
      if (!(limit >= 1 && limit <= 100)) {
        return fail(400, 'invalid_argument', 'limit');
      }
      const q = u.searchParams.get('q');
      let items = this.catalog();
      if (q) {
        items = items.filter((p) => p.name.includes(q));
      }
      const from = Number(u.searchParams.get('cursor') || 0);
      const page = items.slice(from, from + limit);
      const next = from + limit < items.length ? String(from + limit) : '';
      return { status: 200, json: { items: page, next_cursor: next } };
    }
    if (method === 'GET' && path.startsWith('/api/v1/products/')) {
      const id = decodeURIComponent(path.slice('/api/v1/products/'.length));
      const p = this.catalog().find((x) => x.id === id);
      return p ? { status: 200, json: p } : fail(404, 'not_found', id);
    }
    if (method === 'POST' && path === '/api/v1/orders') {
      const auth = headers.Authorization || '';
      const token = auth.replace(/^Bearer /, '');
      if (!this.tokens[token]) {
        return fail(401, 'unauthenticated', 'no token');
      }
      if (this.knobs.expireSetupTokens && this.setupTokens[token]) {
        delete this.tokens[token];
        return fail(401, 'unauthenticated', 'token expired');
      }
      const key = headers['Idempotency-Key'];
      if (!key || !/^[\x21-\x7e]{1,128}$/.test(key)) {
        return fail(400, 'invalid_argument', 'Idempotency-Key');
      }
      const canon = JSON.stringify(body);
      const prev = this.orders[key];
      if (prev) {
        return prev.body === canon ? prev.answer : fail(422, 'idempotency_key_reused', key);
      }
      if (!Array.isArray(body.items) || body.items.length === 0) {
        return fail(400, 'invalid_argument', 'items');
      }
      for (const line of body.items) {
        if (!this.catalog().find((p) => p.id === line.product_id && p.stock > 0)) {
          return fail(409, 'insufficient_stock', line.product_id);
        }
      }
      const answer =
        body.payment && body.payment.token === 'tok_chargeDeclined'
          ? fail(402, 'payment_declined', 'declined')
          : { status: 201, json: { id: `o-${key}`, status: 'PAID' } };
      this.orders[key] = { body: canon, answer };
      return answer;
    }
    return fail(404, 'not_found', `${method} ${path}`);
  },

  toxiproxy(method, u, body) {
    if (this.proxies === null) {
      this.proxies = {};
      for (const p of this.knobs.proxies) {
        this.proxies[p] = { enabled: true, toxics: {} };
      }
    }
    const parts = u.pathname.split('/').slice(1).map(decodeURIComponent);
    const proxy = parts[0] === 'proxies' ? this.proxies[parts[1]] : undefined;
    const fail = (status, error) => ({ status, json: { error, status } });
    if (parts[0] !== 'proxies' || parts.length < 2) {
      return fail(404, 'not found');
    }
    if (!proxy) {
      return fail(404, 'proxy not found');
    }
    if (parts.length === 2 && method === 'GET') {
      return { status: 200, json: { name: parts[1], enabled: proxy.enabled, toxics: Object.values(proxy.toxics) } };
    }
    if (parts.length === 2 && method === 'POST') {
      if (typeof body.enabled === 'boolean') {
        proxy.enabled = body.enabled;
      }
      return { status: 200, json: { name: parts[1], enabled: proxy.enabled } };
    }
    if (parts.length === 3 && parts[2] === 'toxics' && method === 'POST') {
      if (this.knobs.failToxics) {
        return fail(500, 'toxiproxy is broken');
      }
      for (const k of ['name', 'type', 'stream', 'toxicity', 'attributes']) {
        if (!(k in body)) {
          return fail(400, `missing ${k}`);
        }
      }
      if (proxy.toxics[body.name]) {
        return fail(409, 'toxic already exists');
      }
      proxy.toxics[body.name] = body;
      return { status: 200, json: body };
    }
    if (parts.length === 4 && parts[2] === 'toxics' && method === 'DELETE') {
      if (!proxy.toxics[parts[3]]) {
        return fail(404, 'toxic not found');
      }
      delete proxy.toxics[parts[3]];
      return { status: 204 };
    }
    return fail(405, 'method not allowed');
  },

  ops(method, u, body, headers) {
    const fail = (status, code) => ({ status, json: { error: { code, message: code } } });
    const prefix = '/ops/v1/chaos/faults';
    if (u.pathname === prefix && method === 'GET') {
      return { status: 200, json: { faults: this.opsFaults } };
    }
    if (u.pathname === prefix && method === 'POST') {
      if (headers['Content-Type'] !== 'application/json') {
        return fail(400, 'invalid_argument');
      }
      for (const k of Object.keys(body)) {
        if (!['name', 'target', 'type', 'attributes', 'toxicity', 'direction', 'duration'].includes(k)) {
          return fail(400, 'invalid_argument');
        }
      }
      const af = { id: `f${++this.opsSeq}`, fault: body };
      // A restart acts once and is not listed as active, as in the engine.
      if (body.type !== 'restart') {
        this.opsFaults.push(af);
      }
      return { status: 201, json: af };
    }
    if (u.pathname.startsWith(`${prefix}/`) && method === 'DELETE') {
      const id = decodeURIComponent(u.pathname.slice(prefix.length + 1));
      const i = this.opsFaults.findIndex((f) => f.id === id);
      if (i < 0) {
        return fail(404, 'not_found');
      }
      this.opsFaults.splice(i, 1);
      return { status: 204 };
    }
    return fail(404, 'not_found');
  },
};
