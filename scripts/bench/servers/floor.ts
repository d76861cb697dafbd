// Floor server: the least work a task-bound token broker must do per mint and per introspection.
import { randomUUID } from 'node:crypto';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { Redis } from 'ioredis';
import { generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { z } from 'zod';

const AuthorizationDetailsSchema = z
  .array(
    z.object({
      type: z.literal('agent_task'),
      task_id: z.string().min(1).max(200),
      actions: z.array(z.string().min(1).max(100)).min(1).max(20),
      locations: z.array(z.url()).min(1).max(20),
    }),
  )
  .min(1)
  .max(10);

const ISSUER = 'http://floor.bench';
const GRANT_TTL_SEC = 3600;
const ACCESS_TTL_SEC = 300;
const prefix = process.env.BENCH_REDIS_PREFIX ?? 'bench:floor:';
const redis = new Redis(process.env.REDIS_URL ?? '', { commandTimeout: 1000, lazyConnect: true });
await redis.connect();
const { privateKey, publicKey } = await generateKeyPair('ES256');

const app = new Hono();

app.get('/healthz', async (c) => c.text(await redis.ping()));

// Mint: form body, one zod parse, a 3-command pipeline (grant hash, its ttl, the token's jti), one ES256 signature.
app.post('/token', async (c) => {
  const form = new URLSearchParams(await c.req.text());
  let raw: unknown;
  try {
    raw = JSON.parse(form.get('authorization_details') ?? '');
  } catch {
    raw = undefined;
  }
  const parsed = AuthorizationDetailsSchema.safeParse(raw);
  if (!parsed.success) return c.json({ error: 'invalid_authorization_details' }, 400);
  const details = parsed.data;
  const grantId = randomUUID();
  const jti = randomUUID();
  const grantKey = `${prefix}grant:${grantId}`;
  const results = await redis
    .pipeline()
    .hset(grantKey, {
      status: 'active',
      client_id: 'bench-agent',
      details: JSON.stringify(details),
    })
    .expire(grantKey, GRANT_TTL_SEC)
    .set(`${prefix}jti:${jti}`, grantId, 'EX', ACCESS_TTL_SEC)
    .exec();
  if (!results || results.some(([err]) => err))
    return c.json({ error: 'temporarily_unavailable' }, 503);
  const accessToken = await new SignJWT({
    client_id: 'bench-agent',
    authorization_details: details,
    grant_id: grantId,
  })
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'floor' })
    .setIssuer(ISSUER)
    .setSubject('bench-agent')
    .setAudience(details.flatMap((d) => d.locations))
    .setIssuedAt()
    .setExpirationTime(`${ACCESS_TTL_SEC}s`)
    .setJti(jti)
    .sign(privateKey);
  c.header('Cache-Control', 'no-store');
  return c.json({
    access_token: accessToken,
    token_type: 'Bearer',
    expires_in: ACCESS_TTL_SEC,
    authorization_details: details,
    grant_id: grantId,
  });
});

// Introspect: one signature check with the local key, one Redis round trip for the grant's status.
app.post('/introspect', async (c) => {
  const token = new URLSearchParams(await c.req.text()).get('token') ?? '';
  try {
    const { payload } = await jwtVerify(token, publicKey, {
      issuer: ISSUER,
      typ: 'at+jwt',
      algorithms: ['ES256'],
    });
    const status = await redis.hget(`${prefix}grant:${String(payload.grant_id)}`, 'status');
    return c.json(status === 'active' ? { ...payload, active: true } : { active: false });
  } catch {
    return c.json({ active: false });
  }
});

serve({ fetch: app.fetch, hostname: '127.0.0.1', port: Number(process.env.PORT) });
