// When a freshly minted token stops being good: the earliest of its JWT `exp`, the endpoint's
// `expires_in` and the rule's `ttlSeconds`. The JWT is decoded, not verified: its signature is the
// server's business, we only need to know when to get a new one. jose is loaded on first use.
import { tokenDeps } from '../http/deps.js';

export type TokenShapeProblem = 'not-a-jwt' | 'expired';

/** A token that cannot be served. Its message never quotes the token. */
export class TokenShapeError extends Error {
  readonly problem: TokenShapeProblem;
  constructor(problem: TokenShapeProblem, message: string) {
    super(message);
    this.name = 'TokenShapeError';
    this.problem = problem;
  }
}

export interface ExpiryInput {
  /** "jwt": a token that does not decode as a JWT is refused. */
  expect?: 'jwt' | 'any';
  /** The endpoint's expires_in, as it came (number or numeric string). */
  expiresIn?: unknown;
  ttlSeconds?: number;
  /** Unix seconds. */
  now: number;
}

/** Three base64url segments: worth handing to the decoder. */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** The `exp` claim, null when the token is a JWT without one, undefined when it is not a JWT. */
export async function jwtExp(token: string): Promise<number | null | undefined> {
  if (!JWT_SHAPE.test(token)) return undefined;
  const { decodeJwt } = await tokenDeps();
  try {
    const exp = decodeJwt(token).exp;
    return typeof exp === 'number' && Number.isFinite(exp) ? exp : null;
  } catch {
    return undefined;
  }
}

/** Unix seconds the token expires at, or undefined when nothing says. Throws TokenShapeError. */
export async function tokenExpiry(token: string, input: ExpiryInput): Promise<number | undefined> {
  const exp = await jwtExp(token);
  if (exp === undefined && input.expect === 'jwt') {
    throw new TokenShapeError('not-a-jwt', 'the token is not a JWT, and the rule says "expect": "jwt"');
  }
  const bounds: number[] = [];
  if (typeof exp === 'number') bounds.push(exp);
  const expiresIn = typeof input.expiresIn === 'string' && /^\d+$/.test(input.expiresIn) ? Number(input.expiresIn) : input.expiresIn;
  if (typeof expiresIn === 'number' && Number.isFinite(expiresIn) && expiresIn > 0) bounds.push(input.now + Math.floor(expiresIn));
  if (input.ttlSeconds !== undefined) bounds.push(input.now + input.ttlSeconds);
  if (bounds.length === 0) return undefined;
  const at = Math.min(...bounds);
  if (at <= input.now) {
    // Usually a clock problem on one side: say so rather than serving a token that fails at once.
    throw new TokenShapeError('expired', `the token expired at ${new Date(at * 1000).toISOString()} already (is this machine's clock right?)`);
  }
  return at;
}
