/** BOLT 4 failure codes ("Failure Messages"). The top byte is a set of flags. */
export const BADONION = 0x8000;
export const PERM = 0x4000;
export const NODE = 0x2000;
export const UPDATE = 0x1000;

export const FailureCode = {
  temporary_node_failure: NODE | 2,
  permanent_node_failure: PERM | NODE | 2,
  required_node_feature_missing: PERM | NODE | 3,
  invalid_onion_version: BADONION | PERM | 4,
  invalid_onion_hmac: BADONION | PERM | 5,
  invalid_onion_key: BADONION | PERM | 6,
  temporary_channel_failure: UPDATE | 7,
  permanent_channel_failure: PERM | 8,
  required_channel_feature_missing: PERM | 9,
  unknown_next_peer: PERM | 10,
  amount_below_minimum: UPDATE | 11,
  fee_insufficient: UPDATE | 12,
  incorrect_cltv_expiry: UPDATE | 13,
  expiry_too_soon: UPDATE | 14,
  incorrect_or_unknown_payment_details: PERM | 15,
  final_incorrect_cltv_expiry: 18,
  final_incorrect_htlc_amount: 19,
  channel_disabled: UPDATE | 20,
  expiry_too_far: 21,
  invalid_onion_payload: PERM | 22,
  mpp_timeout: 23,
  invalid_onion_blinding: BADONION | PERM | 24,
} as const;

export type FailureCodeName = keyof typeof FailureCode;

const NAMES = new Map<number, FailureCodeName>((Object.entries(FailureCode) as [FailureCodeName, number][]).map(([k, v]) => [v, k]));

/** Spec name of a failure code, or "unknown_failure_0x...." */
export function failureCodeName(code: number): string {
  return NAMES.get(code) ?? `unknown_failure_0x${code.toString(16).padStart(4, '0')}`;
}

export const isBadOnion = (code: number): boolean => (code & BADONION) !== 0;
export const isPermanent = (code: number): boolean => (code & PERM) !== 0;
export const isNodeFailure = (code: number): boolean => (code & NODE) !== 0;
export const hasChannelUpdate = (code: number): boolean => (code & UPDATE) !== 0;
