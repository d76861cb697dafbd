// Operators signed in at the upstream provider: roles from groups, the operator a person becomes, and the config's checks.
import { describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../src/config/schema.ts';
import {
  isOidcOperator,
  mapsAnyRole,
  operatorOfPerson,
  rolesOfGroups,
} from '../../src/domain/operator-sign-in.ts';

const MAPPING = {
  admin: ['sec-admins'],
  approver: ['sec-approvers', 'on-call'],
  viewer: ['staff'],
};
const person = (sub: string, groups: string[], extra = {}) => ({
  issuer: 'https://idp.example',
  sub,
  groups,
  ...extra,
});

describe('rolesOfGroups', () => {
  it('is the union of the roles whose groups the person holds', () => {
    expect(rolesOfGroups(MAPPING, ['on-call', 'staff'])).toEqual(['approver', 'viewer']);
    expect(rolesOfGroups(MAPPING, ['sec-admins'])).toEqual(['admin']);
    expect(rolesOfGroups(MAPPING, ['sales', 'Staff'])).toEqual([]);
    expect(rolesOfGroups({}, ['staff'])).toEqual([]);
  });

  it('mapsAnyRole is false for no mapping or only empty lists', () => {
    expect(mapsAnyRole({})).toBe(false);
    expect(mapsAnyRole({ admin: [], viewer: [] })).toBe(false);
    expect(mapsAnyRole({ viewer: ['staff'] })).toBe(true);
  });
});

describe('operatorOfPerson', () => {
  it('makes oidc:<sub> with the mapped roles, the name and the email', () => {
    const made = operatorOfPerson(
      person('00u1', ['on-call'], { name: 'Ada', email: 'ada@example.com' }),
      MAPPING,
    );
    expect(made).toEqual({
      operator: { id: 'oidc:00u1', name: 'Ada', roles: ['approver'], email: 'ada@example.com' },
    });
    if ('operator' in made) expect(isOidcOperator(made.operator)).toBe(true);
    expect(isOidcOperator({ id: 'op_abc' })).toBe(false);
    expect(isOidcOperator({ id: 'bootstrap' })).toBe(false);
  });

  it('names the person by email, else sub, when the token has no name', () => {
    const byEmail = operatorOfPerson(person('s1', ['staff'], { email: 'x@example.com' }), MAPPING);
    expect('operator' in byEmail && byEmail.operator.name).toBe('x@example.com');
    const bySub = operatorOfPerson(person('s2', ['staff']), MAPPING);
    expect('operator' in bySub && bySub.operator.name).toBe('s2');
  });

  it('refuses a person in no mapped group, and an empty or oversized sub', () => {
    expect(operatorOfPerson(person('s3', ['sales']), MAPPING)).toEqual({ refused: 'no_role' });
    expect(operatorOfPerson(person('', ['staff']), MAPPING)).toEqual({ refused: 'unusable_sub' });
    expect(operatorOfPerson(person('x'.repeat(256), ['staff']), MAPPING)).toEqual({
      refused: 'unusable_sub',
    });
  });
});

describe('config operators.role_groups', () => {
  const oidc = { issuer: 'https://idp.example', client_id: 'c', client_secret: 's' };

  it('defaults to no mapping', () => {
    expect(ConfigSchema.parse({}).operators.role_groups).toEqual({});
  });

  it('needs login.oidc, knows only the four roles, and bounds the lists', () => {
    const bad = [
      { operators: { role_groups: { admin: ['a'] } } },
      { login: { oidc }, operators: { role_groups: { owner: ['a'] } } },
      { login: { oidc }, operators: { role_groups: { viewer: [''] } } },
      { login: { oidc }, operators: { role_groups: { viewer: Array(65).fill('g') } } },
    ];
    for (const config of bad) {
      const parsed = ConfigSchema.safeParse(config);
      expect(parsed.success, JSON.stringify(config)).toBe(false);
      expect(parsed.error?.issues[0]?.path.slice(0, 2)).toEqual(['operators', 'role_groups']);
    }
    const good = ConfigSchema.parse({
      login: { oidc },
      operators: { role_groups: { approver: ['on-call'] } },
    });
    expect(good.operators.role_groups).toEqual({ approver: ['on-call'] });
  });
});
