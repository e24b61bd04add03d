/**
 * Static channel backups (Electrum `export_channel_backup` / `import_channel_backup`): what a
 * wallet restored from its seed needs to get a channel's funds back, and nothing that goes stale
 * (no balances, no commitment numbers): the funding outpoint, the peer and where to reach it,
 * how our keys derive from the seed, and the peer's static channel parameters (its basepoints and
 * the to_self_delay it imposed on our to_local). With it a restored wallet asks the peer to force
 * close (request_force_close) and sweeps to_remote, or finds its own published commitment and
 * sweeps to_local after to_self_delay.
 *
 * Text format: "fulmen_backup:" || base64( 0x01 || nonce (24) || XChaCha20-Poly1305(key, nonce,
 * aad = "fulmen/channel-backup/v1", JSON of BackupContents) ), with
 * key = HMAC-SHA256(lightningRootSecret, "fulmen/channel-backup"): only the same seed opens it.
 * The byte 0x01 versions the envelope (encryption); the JSON's `version` versions the contents:
 * 1 has no channel type, 2 adds `channelType` (BOLT 2 channel_type: 'static_remotekey' or
 * 'anchors', option_anchors_zero_fee_htlc_tx). New backups are version 2; version 1 backups
 * still import, with `channelType: null` (unknown: the restore tries both to_remote forms).
 */
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, randomBytes } from '@noble/hashes/utils.js';
import { z } from 'zod';
import { FulmenError } from '../../util/errors.js';
import type { NetworkName } from '../../bitcoin/network.js';
import type { ChannelTypeName } from '../channel/channel.js';

export const BACKUP_PREFIX = 'fulmen_backup:';
/** Envelope version (first byte). */
const VERSION = 1;
/** Contents version written by encodeChannelBackup (JSON `version`); 1 is still read. */
export const CONTENTS_VERSION = 2;
const CHANNEL_TYPES = ['static_remotekey', 'anchors'] as const satisfies readonly ChannelTypeName[];
const NONCE_BYTES = 24;
const AAD = new TextEncoder().encode('fulmen/channel-backup/v1');

const hex = (bytes: number) => z.string().regex(new RegExp(`^[0-9a-f]{${bytes * 2}}$`));
const point = hex(33);
const u16 = z.number().int().min(0).max(0xffff);

const keyDerivationSchema = z.discriminatedUnion('scheme', [
  z.object({ scheme: z.literal('opened'), remoteNodeId: point, fundingLocktime: z.number().int().min(0).max(0xffffffff) }).strict(),
  z.object({ scheme: z.literal('accepted'), remoteNodeId: point, remoteFundingPubkey: point }).strict(),
]);

const contentsFields = {
    network: z.enum(['mainnet', 'testnet', 'testnet4', 'signet', 'regtest']),
    channelId: hex(32),
    fundingTxid: hex(32),
    fundingOutputIndex: u16,
    fundingSat: z.number().int().positive(),
    /** P2WSH of the 2-of-2 funding script, hex (what the watcher subscribes to). */
    fundingScriptPubKey: hex(34),
    remoteNodeId: point,
    host: z.string().min(1).max(255).nullable(),
    port: z.number().int().min(1).max(65535).nullable(),
    isInitiator: z.boolean(),
    /** Legacy channels: the key index of keys.ts deriveChannelSecrets (null for recoverable keys). */
    keyIndex: z.number().int().min(0).max(0xffffffff).nullable(),
    keyDerivation: keyDerivationSchema.nullable(),
    remote: z
      .object({
        fundingPubkey: point,
        revocationBasepoint: point,
        paymentBasepoint: point,
        delayedPaymentBasepoint: point,
        htlcBasepoint: point,
        /** to_self_delay the peer set: applies to OUR to_local outputs. */
        toSelfDelay: u16,
        dustLimitSat: z.number().int().min(0),
      })
      .strict(),
    local: z.object({ toSelfDelay: u16, dustLimitSat: z.number().int().min(0) }).strict(),
    /** Unix seconds. */
    createdAt: z.number().int().min(0),
};

const oneKeyScheme = (c: { keyIndex: number | null; keyDerivation: unknown }) => (c.keyIndex === null) !== (c.keyDerivation === null);

/** Contents version 2 (written now): with the channel type. */
const contentsSchema = z
  .object({ ...contentsFields, version: z.literal(CONTENTS_VERSION), channelType: z.enum(CHANNEL_TYPES) })
  .strict()
  .refine(oneKeyScheme, 'exactly one of keyIndex and keyDerivation');

/** Contents version 1 (read only): no channel type. */
const contentsV1Schema = z
  .object({ ...contentsFields, version: z.literal(1) })
  .strict()
  .refine(oneKeyScheme, 'exactly one of keyIndex and keyDerivation');

/** The backup of one channel, as encodeChannelBackup takes it (all hex lower case, amounts in sat). */
export type BackupContents = z.infer<typeof contentsSchema>;

/**
 * A decoded backup: version 2 contents, or version 1 read as such with `channelType: null`
 * (made before backups named the channel type).
 */
export type DecodedBackupContents = Omit<BackupContents, 'version' | 'channelType'> & { version: 1 | typeof CONTENTS_VERSION; channelType: ChannelTypeName | null };

/** HMAC-SHA256(lightningRootSecret, "fulmen/channel-backup"). */
export function channelBackupKey(lightningRootSecret: Uint8Array): Uint8Array {
  return hmac(sha256, lightningRootSecret, new TextEncoder().encode('fulmen/channel-backup'));
}

/**
 * Encrypts a backup for the wallet with this Lightning root secret.
 * @throws FulmenError INTERNAL when `contents` is not a valid backup (a bug of the caller).
 */
export function encodeChannelBackup(lightningRootSecret: Uint8Array, contents: BackupContents): string {
  const checked = contentsSchema.safeParse(contents);
  if (!checked.success) throw new FulmenError('INTERNAL', 'Invalid channel backup contents');
  const nonce = randomBytes(NONCE_BYTES);
  const sealed = xchacha20poly1305(channelBackupKey(lightningRootSecret), nonce, AAD).encrypt(new TextEncoder().encode(JSON.stringify(checked.data)));
  return BACKUP_PREFIX + Buffer.from(concatBytes(Uint8Array.of(VERSION), nonce, sealed)).toString('base64');
}

/**
 * Decrypts and checks a backup made by `encodeChannelBackup`.
 * @throws FulmenError BAD_INPUT: not a Fulmen channel backup, made by a wallet with another seed
 *   (or damaged), or for another network.
 */
export function decodeChannelBackup(lightningRootSecret: Uint8Array, text: string, network: NetworkName): DecodedBackupContents {
  const trimmed = text.trim();
  if (!trimmed.startsWith(BACKUP_PREFIX)) throw new FulmenError('BAD_INPUT', `Not a Fulmen channel backup (expected "${BACKUP_PREFIX}...")`);
  const body = trimmed.slice(BACKUP_PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body)) throw new FulmenError('BAD_INPUT', 'Channel backup: invalid base64');
  const bytes = new Uint8Array(Buffer.from(body, 'base64'));
  if (bytes.length < 1 + NONCE_BYTES + 16 || bytes[0] !== VERSION) throw new FulmenError('BAD_INPUT', 'Channel backup: unknown version or truncated');
  let plaintext: Uint8Array;
  try {
    plaintext = xchacha20poly1305(channelBackupKey(lightningRootSecret), bytes.slice(1, 1 + NONCE_BYTES), AAD).decrypt(bytes.slice(1 + NONCE_BYTES));
  } catch {
    throw new FulmenError('BAD_INPUT', 'Cannot decrypt this channel backup: it was made by a wallet with another seed, or it is damaged');
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(plaintext));
  } catch {
    throw new FulmenError('BAD_INPUT', 'Channel backup: malformed contents');
  }
  const v2 = contentsSchema.safeParse(json);
  const v1 = v2.success ? null : contentsV1Schema.safeParse(json);
  let contents: DecodedBackupContents;
  if (v2.success) contents = v2.data;
  else if (v1?.success) contents = { ...v1.data, channelType: null };
  else throw new FulmenError('BAD_INPUT', 'Channel backup: malformed contents');
  if (contents.network !== network) throw new FulmenError('BAD_INPUT', `This channel backup is for ${contents.network}, not ${network}`);
  return contents;
}
