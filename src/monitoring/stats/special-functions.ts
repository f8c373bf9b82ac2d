/**
 * Special functions behind the p-values (chi-square, normal, Kolmogorov–Smirnov).
 * No installed package provides them, so they are written here from the textbook
 * formulas (Lanczos log-gamma, series / continued fraction for the incomplete gamma,
 * Smirnov's exact one-sided sum, the Marsaglia–Tsang–Wang matrix method and the
 * Pelz–Good expansion for the two-sided Kolmogorov distribution).
 */

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
  -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** Natural log of the gamma function for x > 0. */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0] as number;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += (LANCZOS[i] as number) / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Regularised upper incomplete gamma Q(a, x) = Γ(a, x) / Γ(a). */
export function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  if (!Number.isFinite(x)) return 0;
  const lead = a * Math.log(x) - x - logGamma(a);
  if (x < a + 1) {
    // Series for P(a, x); Q = 1 - P.
    let sum = 1 / a;
    let term = sum;
    for (let n = 1; n < 10_000; n++) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-17) break;
    }
    return Math.max(0, 1 - sum * Math.exp(lead));
  }
  // Continued fraction for Q(a, x) (modified Lentz).
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 10_000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(lead) * h;
}

/** Survival function of the chi-square distribution with `df` degrees of freedom. */
export function chiSquareSf(x: number, df: number): number {
  return gammaQ(df / 2, x / 2);
}

/** Complementary error function. */
export function erfc(x: number): number {
  if (x < 0) return 2 - erfc(-x);
  return gammaQ(0.5, x * x);
}

/** Survival function of the standard normal distribution. */
export function normalSf(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
}

function logFactorial(n: number): number {
  return logGamma(n + 1);
}

/** Smirnov's one-sided exact P(D+_n >= x). */
export function smirnovSf(n: number, x: number): number {
  if (x <= 0) return 1;
  if (x >= 1) return 0;
  const jmax = Math.floor(n * (1 - x) + 1e-12);
  let sum = 0;
  const logN = logFactorial(n);
  for (let j = 0; j <= jmax; j++) {
    const a = 1 - x - j / n;
    const b = x + j / n;
    if (a <= 0) continue;
    const logTerm = logN - logFactorial(j) - logFactorial(n - j) + (n - j) * Math.log(a) + (j - 1) * Math.log(b);
    sum += Math.exp(logTerm);
  }
  return Math.min(1, Math.max(0, x * sum));
}

/** Two-sided Kolmogorov CDF P(D_n <= d) by the Marsaglia–Tsang–Wang matrix method (exact). */
function kolmogorovCdfMtw(n: number, d: number): number {
  const k = Math.floor(n * d) + 1;
  const m = 2 * k - 1;
  const h = k - n * d;
  const H = new Float64Array(m * m);
  for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) H[i * m + j] = i - j + 1 >= 0 ? 1 : 0;
  for (let i = 0; i < m; i++) {
    H[i * m] = (H[i * m] as number) - Math.pow(h, i + 1);
    H[(m - 1) * m + i] = (H[(m - 1) * m + i] as number) - Math.pow(h, m - i);
  }
  if (2 * h - 1 > 0) H[(m - 1) * m] = (H[(m - 1) * m] as number) + Math.pow(2 * h - 1, m);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      const g = i - j + 1;
      if (g > 0) H[i * m + j] = (H[i * m + j] as number) / Math.exp(logFactorial(g));
    }
  }
  const { matrix, exponent } = matrixPower(H, m, n);
  // P = n!/n^n * (H^n)[k-1][k-1], with H^n carried as matrix * 2^exponent.
  const logP = Math.log(matrix[(k - 1) * m + (k - 1)] as number) + exponent * Math.LN2 + logFactorial(n) - n * Math.log(n);
  return Math.exp(logP);
}

function matMul(a: Float64Array, b: Float64Array, m: number): Float64Array {
  const c = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let k = 0; k < m; k++) {
      const aik = a[i * m + k] as number;
      if (aik === 0) continue;
      for (let j = 0; j < m; j++) c[i * m + j] = (c[i * m + j] as number) + aik * (b[k * m + j] as number);
    }
  }
  return c;
}

function rescale(a: Float64Array, m: number): number {
  // Keep entries near 1 so the power of a large matrix neither overflows nor underflows.
  const centre = a[Math.floor(m / 2) * m + Math.floor(m / 2)] as number;
  if (!(centre > 1e140 || (centre < 1e-140 && centre > 0))) return 0;
  const e = Math.round(Math.log2(centre));
  const f = Math.pow(2, -e);
  for (let i = 0; i < a.length; i++) a[i] = (a[i] as number) * f;
  return e;
}

function matrixPower(h: Float64Array, m: number, n: number): { matrix: Float64Array; exponent: number } {
  if (n === 1) return { matrix: h, exponent: 0 };
  const half = matrixPower(h, m, Math.floor(n / 2));
  let v = matMul(half.matrix, half.matrix, m);
  let e = 2 * half.exponent;
  if (n % 2 === 1) v = matMul(h, v, m);
  e += rescale(v, m);
  return { matrix: v, exponent: e };
}

/** Two-sided Kolmogorov CDF by the Pelz–Good asymptotic expansion (large n). */
function kolmogorovCdfPelzGood(n: number, x: number): number {
  const z = Math.sqrt(n) * x;
  const z2 = z * z;
  const z4 = z2 * z2;
  const z6 = z4 * z2;
  const pi2 = Math.PI * Math.PI;
  const pi4 = pi2 * pi2;
  const pi6 = pi4 * pi2;
  const logQ = -pi2 / 8 / z2;
  if (logQ < -745) return 0;
  const maxk = Math.ceil((16 * z) / Math.PI);
  // Sums over odd m = 2k-1 of polynomial(m) * exp(-m^2 pi^2 / (8 z^2)).
  let k0 = 0;
  let k1 = 0;
  let k2 = 0;
  let k3 = 0;
  for (let k = 1; k <= maxk; k++) {
    const m = 2 * k - 1;
    const m2 = m * m;
    const w = Math.exp((m2 * logQ));
    k0 += w;
    k1 += w * (pi2 * m2 / 4 - z2);
    k2 += w * (6 * z6 + 2 * z4 + ((2 * z4 - 5 * z2) * pi2 * m2) / 4 + (pi4 * (1 - 2 * z2) * m2 * m2) / 16);
    k3 += w * (-30 * z6 - 90 * z6 * z2 + (pi2 * (135 * z4 - 96 * z6) * m2) / 4 + (pi4 * (212 * z4 - 60 * z2) * m2 * m2) / 16 + (pi6 * (5 - 30 * z2) * m2 * m2 * m2) / 64);
  }
  const s2pi = Math.sqrt(2 * Math.PI);
  k0 *= s2pi / z;
  k1 *= s2pi / (6 * z4);
  k2 *= s2pi / (72 * z6 * z);
  k3 *= s2pi / (6480 * z4 * z6);
  // Second family of terms over all integers k, for K2 and K3.
  let e2 = 0;
  let e3 = 0;
  const s3z = Math.sqrt(3) * z;
  for (let k = 1; k <= maxk; k++) {
    const w = Math.exp((-pi2 * k * k) / 2 / z2);
    e2 += k * k * w;
    e3 += (s3z + Math.PI * k) * (s3z - Math.PI * k) * k * k * w;
  }
  k2 += (e2 * pi2 * s2pi) / (-36 * z2 * z);
  k3 += (e3 * pi2 * s2pi) / (216 * z6);
  return k0 + k1 / Math.sqrt(n) + k2 / n + k3 / (n * Math.sqrt(n));
}

/** Survival function P(D_n >= d) of the two-sided one-sample Kolmogorov statistic (scipy's `kstwo.sf`). */
export function kolmogorovSf(n: number, d: number): number {
  if (d >= 1) return 0;
  if (d <= 0) return 1;
  const t = n * d;
  if (t <= 1) {
    if (t <= 0.5) return 1;
    const cdf = Math.exp(logFactorial(n) - n * Math.log(n) + n * Math.log(2 * t - 1));
    return clip(1 - cdf);
  }
  if (t >= n - 1) return clip(2 * Math.pow(1 - d, n));
  if (d >= 0.5) return clip(2 * smirnovSf(n, d));
  const nx2 = t * d;
  if (n <= 140) {
    if (nx2 <= 4) return clip(1 - kolmogorovCdfMtw(n, d));
    return clip(2 * smirnovSf(n, d));
  }
  if (nx2 >= 370) return 0;
  if (nx2 >= 2.2) return clip(2 * smirnovSf(n, d));
  if (nx2 >= 18) return 0;
  const cdf = n <= 100_000 && n * Math.pow(d, 1.5) <= 1.4 ? kolmogorovCdfMtw(n, d) : kolmogorovCdfPelzGood(n, d);
  return clip(1 - cdf);
}

function clip(p: number): number {
  return Math.min(1, Math.max(0, p));
}
