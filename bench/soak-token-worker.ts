/**
 * Worker thread of soak-tokens.ts: signs a range of fixed-length RS256 JWTs
 * with node:crypto (synchronous RSA signing is fastest in a thread of its
 * own) and posts them back as one buffer of tokens back to back.
 */
import { createPrivateKey, randomUUID, sign, type JsonWebKey } from 'node:crypto';
import { parentPort } from 'node:worker_threads';

export interface MintJob {
  readonly jwk: JsonWebKey;
  readonly kid: string;
  readonly issuer: string;
  readonly audience: string;
  readonly group: string;
  /** Distinguishes token families (sub prefix) so two families never share a subject. */
  readonly family: string;
  readonly iat: number;
  readonly exp: number;
  readonly from: number;
  readonly to: number;
  readonly tokenLength: number;
}

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Every field fixed-width, so every token has the same length and can be patched into a frame in place. */
export function tokenFor(job: MintJob, index: number, signWith: (data: string) => string): string {
  const n = String(index).padStart(8, '0');
  const header = b64({ alg: 'RS256', kid: job.kid, typ: 'JWT' });
  const payload = b64({
    iss: job.issuer,
    sub: `6a0f3c2e-${job.family}-user-${n}`,
    aud: job.audience,
    scope: 'openid profile email',
    preferred_username: `${job.family}.user${n}`,
    email: `${job.family}.user${n}@example.com`,
    groups: [job.group],
    iat: job.iat,
    exp: job.exp,
    jti: randomUUID(),
  });
  const input = `${header}.${payload}`;
  return `${input}.${signWith(input)}`;
}

if (parentPort) {
  const port = parentPort;
  port.on('message', (job: MintJob) => {
    const key = createPrivateKey({ key: job.jwk, format: 'jwk' });
    const signWith = (data: string) => sign('sha256', Buffer.from(data), key).toString('base64url');
    const out = Buffer.allocUnsafe((job.to - job.from) * job.tokenLength);
    for (let i = job.from; i < job.to; i++) {
      const token = tokenFor(job, i, signWith);
      if (token.length !== job.tokenLength) throw new Error(`token ${i} is ${token.length} bytes, expected ${job.tokenLength}`);
      out.write(token, (i - job.from) * job.tokenLength, 'latin1');
    }
    port.postMessage(out, [out.buffer]);
  });
}
