/**
 * Seeded randomness for the load generator. Pure: no I/O, no clock, no `Math.random`, so one seed
 * gives one exact traffic sequence (a failed run can be replayed byte for byte).
 *
 * sfc32 (Chris Doty-Humphrey's Small Fast Chaotic generator): 128 bits of state, passes PractRand
 * to terabytes, and needs only 32-bit integer operations, which V8 keeps unboxed. Seeds, numeric or
 * text, are spread over the state with cyrb128 so that seeds 1 and 2 give unrelated streams.
 */

export interface Rng {
  /** Uniform integer in 0 .. 2^32 - 1. */
  u32(): number;
  /** Uniform float in [0, 1) with 53 random bits. */
  float(): number;
  /** Uniform integer in 0 .. n - 1 (n ≥ 1). */
  below(n: number): number;
  /** Standard normal N(0, 1). */
  normal(): number;
}

/** Four 32-bit words from any text (cyrb128 by bryc, public domain). */
function cyrb128(text: string): [number, number, number, number] {
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}

const TWO_POW_26 = 67108864;
const TWO_POW_53 = 9007199254740992;

/**
 * A generator for `seed`. `stream` names an independent sequence under the same seed (the probe
 * draws from its own stream so that its timing never shifts the main traffic sequence).
 */
export function createRng(seed: number | string, stream = ''): Rng {
  let [a, b, c, d] = cyrb128(`${seed}/${stream}`);
  const u32 = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  // The first outputs of sfc32 still echo the seed words; 15 rounds mix them away (the author's
  // recommendation is 12 or more).
  for (let i = 0; i < 15; i++) u32();

  const float = (): number => ((u32() >>> 5) * TWO_POW_26 + (u32() >>> 6)) / TWO_POW_53;

  return {
    u32,
    float,
    below(n) {
      if (!Number.isInteger(n) || n < 1) throw new RangeError(`below(n) needs an integer n ≥ 1, got ${n}`);
      // Multiply-shift on 53 bits: the bias is at most n / 2^53, invisible for any n we use.
      return Math.floor(float() * n);
    },
    normal() {
      // Box-Muller; 1 - float() is in (0, 1], so the log is finite. The second value is dropped
      // to keep the generator stateless beyond sfc32 itself.
      const u = 1 - float();
      const v = float();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    },
  };
}

const HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function hex32(x: number): string {
  return (
    (HEX[(x >>> 24) & 255] ?? '') +
    (HEX[(x >>> 16) & 255] ?? '') +
    (HEX[(x >>> 8) & 255] ?? '') +
    (HEX[x & 255] ?? '')
  );
}

/**
 * A version-4-shaped UUID (122 random bits, version nibble 4, variant 10xx) drawn from `rng`, in
 * lower case. Not cryptographic, which is fine: event ids only need to be unique, and 122 bits
 * make a collision in a billion events a one-in-10^19 event.
 */
export function uuidV4(rng: Rng): string {
  // Layout xxxxxxxx-xxxx-Vxxx-Nxxx-xxxxxxxxxxxx: the version nibble V is bits 15..12 of the
  // second word, the variant bits N the top two of the third.
  const w0 = rng.u32();
  const w1 = ((rng.u32() & 0xffff0fff) | 0x00004000) >>> 0;
  const w2 = ((rng.u32() & 0x3fffffff) | 0x80000000) >>> 0;
  const w3 = rng.u32();
  const h1 = hex32(w1);
  const h2 = hex32(w2);
  return `${hex32(w0)}-${h1.slice(0, 4)}-${h1.slice(4)}-${h2.slice(0, 4)}-${h2.slice(4)}${hex32(w3)}`;
}

/**
 * A version-7 UUID (RFC 9562) for the time `nowMs`: the Unix time in milliseconds in the first 48
 * bits, the version nibble 7, then 74 bits drawn from `rng` with the variant 10xx; lower case. Ids
 * that grow with time are what game servers are told to send (the producer library's
 * `newEventId`): the duplicate check appends them at the right edge of its index. Deterministic
 * for a given rng and time, so a generator's traffic stays reproducible.
 */
export function uuidV7(rng: Rng, nowMs: number): string {
  const ms = Math.max(0, Math.floor(nowMs));
  const high = Math.floor(ms / 2 ** 32) & 0xffff;
  const low = ms >>> 0;
  const w1 = ((rng.u32() & 0x0fff) | 0x7000) >>> 0;
  const w2 = ((rng.u32() & 0x3fffffff) | 0x80000000) >>> 0;
  const w3 = rng.u32();
  const t = hex32(low);
  const h2 = hex32(w2);
  return `${hex32(high).slice(4)}${t.slice(0, 4)}-${t.slice(4)}-${hex32(w1).slice(4)}-${h2.slice(0, 4)}-${h2.slice(4)}${hex32(w3)}`;
}

/**
 * Zipf's law over ranks 1..n: P(k) ∝ 1 / k^s. A cumulative table and binary search, so one draw
 * costs about log2(n) comparisons (17 for 100,000 players) and the table 8 bytes a rank.
 * Returns a 0-based rank: 0 is the most popular item.
 */
export interface Zipf {
  readonly n: number;
  sample(rng: Rng): number;
  /** The probability of 0-based rank `k`. */
  probability(k: number): number;
}

export function createZipf(n: number, s: number): Zipf {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`Zipf needs an integer n ≥ 1, got ${n}`);
  if (!(s >= 0) || !Number.isFinite(s)) throw new RangeError(`Zipf needs a finite exponent s ≥ 0, got ${s}`);
  const cdf = new Float64Array(n);
  let total = 0;
  for (let k = 0; k < n; k++) {
    total += 1 / Math.pow(k + 1, s);
    cdf[k] = total;
  }
  return {
    n,
    sample(rng) {
      const u = rng.float() * total;
      let lo = 0;
      let hi = n - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if ((cdf[mid] ?? total) > u) hi = mid;
        else lo = mid + 1;
      }
      return lo;
    },
    probability(k) {
      return 1 / Math.pow(k + 1, s) / total;
    },
  };
}

/** Fisher-Yates shuffle of a copy of `items`. */
export function shuffled<T>(items: readonly T[], rng: Rng): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    const tmp = out[i] as T;
    out[i] = out[j] as T;
    out[j] = tmp;
  }
  return out;
}
