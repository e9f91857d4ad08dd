/**
 * Deterministic speech-like audio for the voice activity detection tests and benchmark
 * (no audio file ships with the project): stretches of faint noise alternate with
 * voiced bursts, a glottal pulse train at 100–220 Hz shaped by three vowel formants and
 * a syllable rhythm of about 4 Hz.
 */
export const SAMPLE_RATE = 16000;
/** 30 ms at 16 kHz. */
export const CHUNK_SAMPLES = 480;

/** A small seeded PRNG (mulberry32), so that every run hears the same audio. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const VOWELS = [
  [730, 1090, 2440],
  [270, 2290, 3010],
  [530, 1840, 2480],
  [300, 870, 2240],
];

/** A two-pole resonator at `frequency` with bandwidth `bandwidth` (Hz), applied in place. */
function resonate(signal: Float32Array, frequency: number, bandwidth: number): Float32Array {
  const r = Math.exp((-Math.PI * bandwidth) / SAMPLE_RATE);
  const a1 = 2 * r * Math.cos((2 * Math.PI * frequency) / SAMPLE_RATE);
  const a2 = -r * r;
  const out = new Float32Array(signal.length);
  for (let n = 0; n < signal.length; n++) out[n] = (1 - r) * signal[n] + a1 * (out[n - 1] ?? 0) + a2 * (out[n - 2] ?? 0);
  return out;
}

export function synthesizeSpeechLikeAudio(seed: number, seconds: number): Float32Array {
  const next = random(seed);
  const length = Math.round(seconds * SAMPLE_RATE);
  const audio = new Float32Array(length);
  for (let n = 0; n < length; n++) audio[n] = (next() - 0.5) * 0.002;
  let position = Math.round((0.15 + next() * 0.2) * SAMPLE_RATE);
  while (position < length) {
    const burst = Math.min(length - position, Math.round((0.3 + next() * 0.4) * SAMPLE_RATE));
    const pitch = 100 + next() * 120;
    const vowel = VOWELS[Math.floor(next() * VOWELS.length)];
    const pulses = new Float32Array(burst);
    let phase = 0;
    for (let n = 0; n < burst; n++) {
      phase += (pitch * (1 + 0.05 * Math.sin((2 * Math.PI * 3 * n) / SAMPLE_RATE))) / SAMPLE_RATE;
      if (phase >= 1) {
        phase -= 1;
        pulses[n] = 1;
      }
      pulses[n] += (next() - 0.5) * 0.05;
    }
    const voiced = new Float32Array(burst);
    vowel.forEach((formant, k) => {
      const shaped = resonate(pulses, formant, 80 + 40 * k);
      for (let n = 0; n < burst; n++) voiced[n] += shaped[n] / (k + 1);
    });
    let peak = 0;
    for (const v of voiced) peak = Math.max(peak, Math.abs(v));
    for (let n = 0; n < burst; n++) {
      const syllable = 0.6 + 0.4 * Math.sin((2 * Math.PI * 4 * n) / SAMPLE_RATE - Math.PI / 2);
      const edge = Math.min(1, n / 400, (burst - n) / 400);
      audio[position + n] += (0.5 * voiced[n] * syllable * edge) / peak;
    }
    position += burst + Math.round((0.2 + next() * 0.3) * SAMPLE_RATE);
  }
  return audio;
}
