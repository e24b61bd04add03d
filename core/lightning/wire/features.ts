/**
 * Feature bits (BOLT 9). Bits are numbered from the least-significant bit of the big-endian
 * byte array; each feature has an even (required) and odd (optional) bit.
 */
import { WireDecodeError } from './codec.js';

/**
 * Where a feature may appear (BOLT 9 "Context"): I init, N node_announcement, C channel_announcement,
 * 9 BOLT 11 invoice, T channel_type.
 */
export type FeatureContext = 'I' | 'N' | 'C' | '9' | 'T';

export type FeatureName =
  | 'option_data_loss_protect'
  | 'option_upfront_shutdown_script'
  | 'gossip_queries'
  | 'var_onion_optin'
  | 'gossip_queries_ex'
  | 'option_static_remotekey'
  | 'payment_secret'
  | 'basic_mpp'
  | 'option_support_large_channel'
  | 'option_anchors'
  | 'option_route_blinding'
  | 'option_shutdown_anysegwit'
  | 'option_dual_fund'
  | 'option_quiesce'
  | 'option_attribution_data'
  | 'option_onion_messages'
  | 'option_provide_storage'
  | 'option_channel_type'
  | 'option_scid_alias'
  | 'option_payment_metadata'
  | 'option_zeroconf'
  | 'option_simple_close'
  | 'option_splice';

export interface FeatureInfo {
  name: FeatureName;
  /** The even (required) bit; the optional bit is `bit + 1`. */
  bit: number;
  contexts: readonly FeatureContext[];
  dependsOn: readonly FeatureName[];
}

/**
 * Known features. Features that BOLT 9 now marks ASSUMED keep the contexts they were last
 * assigned (peers still set them): data_loss_protect/static_remotekey/channel_type in IN,
 * var_onion_optin/payment_secret in IN9, gossip_queries in IN.
 */
export const KNOWN_FEATURES: readonly FeatureInfo[] = [
  { name: 'option_data_loss_protect', bit: 0, contexts: ['I', 'N'], dependsOn: [] },
  { name: 'option_upfront_shutdown_script', bit: 4, contexts: ['I', 'N'], dependsOn: [] },
  { name: 'gossip_queries', bit: 6, contexts: ['I', 'N'], dependsOn: [] },
  { name: 'var_onion_optin', bit: 8, contexts: ['I', 'N', '9'], dependsOn: [] },
  { name: 'gossip_queries_ex', bit: 10, contexts: ['I', 'N'], dependsOn: [] },
  { name: 'option_static_remotekey', bit: 12, contexts: ['I', 'N', 'T'], dependsOn: [] },
  { name: 'payment_secret', bit: 14, contexts: ['I', 'N', '9'], dependsOn: [] },
  { name: 'basic_mpp', bit: 16, contexts: ['I', 'N', '9'], dependsOn: ['payment_secret'] },
  { name: 'option_support_large_channel', bit: 18, contexts: ['I', 'N'], dependsOn: [] },
  { name: 'option_anchors', bit: 22, contexts: ['I', 'N', 'T'], dependsOn: [] },
  { name: 'option_route_blinding', bit: 24, contexts: ['I', 'N', '9'], dependsOn: [] },
  { name: 'option_shutdown_anysegwit', bit: 26, contexts: ['I', 'N'], dependsOn: [] },
  { name: 'option_dual_fund', bit: 28, contexts: ['I', 'N'], dependsOn: [] },
  { name: 'option_quiesce', bit: 34, contexts: ['I', 'N'], dependsOn: [] },
  { name: 'option_attribution_data', bit: 36, contexts: ['I', 'N', '9'], dependsOn: [] },
  { name: 'option_onion_messages', bit: 38, contexts: ['I', 'N'], dependsOn: [] },
  { name: 'option_provide_storage', bit: 42, contexts: ['I', 'N'], dependsOn: [] },
  { name: 'option_channel_type', bit: 44, contexts: ['I', 'N'], dependsOn: [] },
  { name: 'option_scid_alias', bit: 46, contexts: ['I', 'N', 'T'], dependsOn: [] },
  { name: 'option_payment_metadata', bit: 48, contexts: ['9'], dependsOn: [] },
  { name: 'option_zeroconf', bit: 50, contexts: ['I', 'N', 'T'], dependsOn: ['option_scid_alias'] },
  { name: 'option_simple_close', bit: 60, contexts: ['I', 'N'], dependsOn: ['option_shutdown_anysegwit'] },
  { name: 'option_splice', bit: 62, contexts: ['I', 'N'], dependsOn: [] },
];

const BY_NAME = new Map<FeatureName, FeatureInfo>(KNOWN_FEATURES.map((f) => [f.name, f]));
const BY_PAIR = new Map<number, FeatureInfo>(KNOWN_FEATURES.map((f) => [f.bit, f]));

export function featureInfo(name: FeatureName): FeatureInfo {
  return BY_NAME.get(name)!;
}

/** Immutable set of feature bits. */
export class FeatureBits {
  private readonly bitSet: ReadonlySet<number>;

  private constructor(bits: Iterable<number>) {
    this.bitSet = new Set(bits);
  }

  static empty(): FeatureBits {
    return new FeatureBits([]);
  }

  static fromBits(bits: Iterable<number>): FeatureBits {
    for (const b of bits) if (!Number.isInteger(b) || b < 0) throw new RangeError(`Invalid feature bit ${b}`);
    return new FeatureBits(bits);
  }

  /** Parses a big-endian feature byte array (BOLT 1 `features`, BOLT 2 `channel_type`). */
  static fromBytes(bytes: Uint8Array): FeatureBits {
    const bits: number[] = [];
    const n = bytes.length;
    for (let i = 0; i < n; i++) {
      const byte = bytes[n - 1 - i]!;
      for (let j = 0; j < 8; j++) if (byte & (1 << j)) bits.push(i * 8 + j);
    }
    return new FeatureBits(bits);
  }

  /** Builds from names: each feature set as optional (odd bit) or required (even bit). */
  static fromFeatures(features: Partial<Record<FeatureName, 'optional' | 'required'>>): FeatureBits {
    const bits: number[] = [];
    for (const [name, mode] of Object.entries(features) as [FeatureName, 'optional' | 'required'][]) {
      const info = BY_NAME.get(name);
      if (!info) throw new RangeError(`Unknown feature ${name}`);
      bits.push(mode === 'required' ? info.bit : info.bit + 1);
    }
    return new FeatureBits(bits);
  }

  /** Minimal big-endian encoding (no leading zero bytes). */
  toBytes(): Uint8Array {
    if (this.bitSet.size === 0) return new Uint8Array(0);
    const maxBit = Math.max(...this.bitSet);
    const len = Math.floor(maxBit / 8) + 1;
    const out = new Uint8Array(len);
    for (const b of this.bitSet) out[len - 1 - Math.floor(b / 8)]! |= 1 << b % 8;
    return out;
  }

  bits(): number[] {
    return [...this.bitSet].sort((a, b) => a - b);
  }

  hasBit(bit: number): boolean {
    return this.bitSet.has(bit);
  }

  /** True when either bit of the feature's pair is set. */
  has(name: FeatureName): boolean {
    const b = featureInfo(name).bit;
    return this.bitSet.has(b) || this.bitSet.has(b + 1);
  }

  /** True when the even bit is set (BOLT 9: both set counts as required). */
  isRequired(name: FeatureName): boolean {
    return this.bitSet.has(featureInfo(name).bit);
  }

  with(name: FeatureName, mode: 'optional' | 'required'): FeatureBits {
    const b = featureInfo(name).bit;
    const bits = new Set(this.bitSet);
    bits.delete(b);
    bits.delete(b + 1);
    bits.add(mode === 'required' ? b : b + 1);
    return new FeatureBits(bits);
  }

  without(name: FeatureName): FeatureBits {
    const b = featureInfo(name).bit;
    return new FeatureBits([...this.bitSet].filter((x) => x !== b && x !== b + 1));
  }

  union(other: FeatureBits): FeatureBits {
    return new FeatureBits([...this.bitSet, ...other.bitSet]);
  }

  equals(other: FeatureBits): boolean {
    if (other.bitSet.size !== this.bitSet.size) return false;
    for (const b of this.bitSet) if (!other.bitSet.has(b)) return false;
    return true;
  }

  /**
   * Even (required) bits we do not know in `context` (BOLT 1 init: "it's ok to be odd";
   * an unknown required bit means the peer/invoice needs something we cannot do).
   */
  unknownRequiredBits(context: FeatureContext): number[] {
    const out: number[] = [];
    for (const b of this.bitSet) {
      if (b % 2 !== 0) continue;
      const info = BY_PAIR.get(b);
      if (!info || !info.contexts.includes(context)) out.push(b);
    }
    return out.sort((a, b) => a - b);
  }

  /** Known features that are set but whose dependencies are not (BOLT 9 "transitive dependencies"). */
  missingDependencies(): { feature: FeatureName; missing: FeatureName }[] {
    const out: { feature: FeatureName; missing: FeatureName }[] = [];
    for (const info of KNOWN_FEATURES) {
      if (!this.has(info.name)) continue;
      for (const dep of info.dependsOn) if (!this.has(dep)) out.push({ feature: info.name, missing: dep });
    }
    return out;
  }

  /** Names of the known features set, with their mode (for logs and the GUI). */
  describe(): { name: FeatureName; required: boolean }[] {
    return KNOWN_FEATURES.filter((f) => this.has(f.name)).map((f) => ({ name: f.name, required: this.isRequired(f.name) }));
  }
}

/**
 * Checks a remote feature vector the way BOLT 1 (init) and BOLT 11 (invoice `9` field) demand:
 * no unknown required bits for the context and all dependencies present.
 * @throws WireDecodeError naming the offending bits.
 */
export function assertFeaturesSupported(features: FeatureBits, context: FeatureContext): void {
  const unknown = features.unknownRequiredBits(context);
  if (unknown.length > 0) throw new WireDecodeError(`Unknown required feature bits: ${unknown.join(', ')}`);
  const missing = features.missingDependencies();
  if (missing.length > 0)
    throw new WireDecodeError(`Feature ${missing[0]!.feature} set without its dependency ${missing[0]!.missing}`);
}
