// oidc-provider storage adapter over ioredis, modelled on the provider's example Redis adapter (peer server only).
import type { Redis } from 'ioredis';

type Payload = Record<string, unknown> & { grantId?: string; userCode?: string; uid?: string };

/** Models whose tokens belong to a grant, so that revoking the grant can find them. */
const grantable = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
]);
/** Models stored as a hash so that `consume` can mark them without rewriting the payload. */
const consumable = new Set([
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
]);

/** Returns the adapter class oidc-provider instantiates once per model name; every key starts with `prefix`. */
export function createRedisAdapter(client: Redis, prefix: string) {
  const grantKey = (id: string) => `${prefix}grant:${id}`;
  const userCodeKey = (code: string) => `${prefix}userCode:${code}`;
  const uidKey = (uid: string) => `${prefix}uid:${uid}`;

  return class RedisAdapter {
    constructor(readonly name: string) {}

    async upsert(id: string, payload: Payload, expiresIn?: number): Promise<void> {
      const key = this.key(id);
      const multi = client.multi();
      if (consumable.has(this.name)) multi.hset(key, { payload: JSON.stringify(payload) });
      else multi.set(key, JSON.stringify(payload));
      if (expiresIn) multi.expire(key, expiresIn);
      if (grantable.has(this.name) && payload.grantId) {
        const gKey = grantKey(payload.grantId);
        multi.rpush(gKey, key);
        // The grant list must outlive its longest-lived member.
        const ttl = await client.ttl(gKey);
        if (expiresIn && expiresIn > ttl) multi.expire(gKey, expiresIn);
      }
      if (payload.userCode) {
        multi.set(userCodeKey(payload.userCode), id);
        if (expiresIn) multi.expire(userCodeKey(payload.userCode), expiresIn);
      }
      if (payload.uid) {
        multi.set(uidKey(payload.uid), id);
        if (expiresIn) multi.expire(uidKey(payload.uid), expiresIn);
      }
      await multi.exec();
    }

    async find(id: string): Promise<Payload | undefined> {
      if (consumable.has(this.name)) {
        const { payload, ...rest } = await client.hgetall(this.key(id));
        return payload ? { ...rest, ...JSON.parse(payload) } : undefined;
      }
      const data = await client.get(this.key(id));
      return data ? JSON.parse(data) : undefined;
    }

    async findByUid(uid: string): Promise<Payload | undefined> {
      const id = await client.get(uidKey(uid));
      return id ? this.find(id) : undefined;
    }

    async findByUserCode(userCode: string): Promise<Payload | undefined> {
      const id = await client.get(userCodeKey(userCode));
      return id ? this.find(id) : undefined;
    }

    async destroy(id: string): Promise<void> {
      await client.del(this.key(id));
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      const keys = await client.lrange(grantKey(grantId), 0, -1);
      const multi = client.multi();
      for (const key of keys) multi.del(key);
      multi.del(grantKey(grantId));
      await multi.exec();
    }

    async consume(id: string): Promise<void> {
      await client.hset(this.key(id), 'consumed', Math.floor(Date.now() / 1000));
    }

    key(id: string): string {
      return `${prefix}${this.name}:${id}`;
    }
  };
}
